package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/consumer"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

var errBoom = errors.New("handler failed (the database is down)")

// recorder is a Handler that records the values it sees and fails on one value, once.
type recorder struct {
	mu      sync.Mutex
	seen    []string
	failOn  string
	pastBad chan string // gets a value handled after the failure, within the same Run
	failed  bool
	all     chan struct{}
	want    string // close all once this value was handled
}

func (r *recorder) handle(_ context.Context, rec *kgo.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := string(rec.Value)
	r.seen = append(r.seen, v)
	if r.failed && r.pastBad != nil {
		select {
		case r.pastBad <- v:
		default:
		}
	}
	if v == r.failOn && !r.failed {
		r.failed = true
		return errBoom
	}
	if v == r.want && r.all != nil {
		close(r.all)
		r.all = nil
	}
	return nil
}

func (r *recorder) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("m%d", i))
	}
	return out
}

func produce(t *testing.T, brokers []string, topic string, values []string) {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.DefaultProduceTopic(topic))
	var rs []*kgo.Record
	for _, v := range values {
		rs = append(rs, &kgo.Record{Value: []byte(v)})
	}
	kafkatest.Produce(t, cl, rs...)
}

func TestCommitRedeliversAFailedMessageAfterRestart(t *testing.T) {
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "payments", 1)
	produce(t, ep.Brokers, topic, seq(0, 9))
	cfg := consumer.Config{Brokers: ep.Brokers, Group: ep.TopicPrefix + "billing", Topic: topic}

	// First run: m5 fails. Run must stop and say so.
	first := &recorder{failOn: "m5", pastBad: make(chan string, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx, cfg, first.handle) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, errBoom, "Run after the handler failed on m5: want the handler's error, wrapped")
	case v := <-first.pastBad:
		cancel()
		<-done
		t.Fatalf("after m5 failed, the handler got %s in the same run, want Run to stop and return the error: "+
			"a failed message must not be skipped, and the offset of a later one would cover it", v)
	case <-ctx.Done():
		t.Fatalf("Run did not return within %v after the handler failed on m5 (handled %v)", kafkatest.Wait, first.values())
	}
	require.Equal(t, seq(0, 5), first.values(), "values handled by the first run")
	require.EqualValues(t, 5, kafkatest.Committed(t, ep.Brokers, cfg.Group, topic, 0),
		"committed offset after m0..m4 succeeded and m5 failed: want 5, the failed record's offset (the committed offset is the next record to read). "+
			"More means m5 is never redelivered (autocommit, or committing the whole batch, or committing the failed record); less means handled records come back")

	// Restart: the group resumes at m5.
	second := &recorder{all: make(chan struct{}), want: "m9"}
	all := second.all
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() { done2 <- consumer.Run(ctx2, cfg, second.handle) }()
	select {
	case <-all:
	case err := <-done2:
		t.Fatalf("Run after restart returned %v before handling m9 (handled %v)", err, second.values())
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run after restart handled %v within %v, want m5..m9", second.values(), kafkatest.Wait)
	}
	cancel2()
	select {
	case err := <-done2:
		require.NoError(t, err, "Run after its ctx was cancelled: a stop is not an error")
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run did not return within %v after its ctx was cancelled", kafkatest.Wait)
	}
	require.Equal(t, seq(5, 9), second.values(),
		"values handled after the restart: want m5 (the failed one, redelivered) then m6..m9, and none of m0..m4 (they were committed)")
	require.EqualValues(t, 10, kafkatest.Committed(t, ep.Brokers, cfg.Group, topic, 0),
		"committed offset once every record was handled and Run stopped: handled work must be committed before Run returns")
}

func TestCommitOnlyHandledRecordsOnStop(t *testing.T) {
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "stock", 1)
	produce(t, ep.Brokers, topic, seq(0, 3))
	cfg := consumer.Config{Brokers: ep.Brokers, Group: ep.TopicPrefix + "stock", Topic: topic}

	// The handler blocks on m2 until the consumer is told to stop, and then fails, as a handler whose database
	// call was cancelled does. m2 was not processed: its offset must not be committed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	at2 := make(chan struct{})
	var seen []string
	done := make(chan error, 1)
	go func() {
		done <- consumer.Run(ctx, cfg, func(ctx context.Context, r *kgo.Record) error {
			seen = append(seen, string(r.Value))
			if string(r.Value) == "m2" {
				close(at2)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
	}()
	select {
	case <-at2:
	case err := <-done:
		t.Fatalf("Run returned %v before handling m2", err)
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run did not reach m2 within %v", kafkatest.Wait)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run stopped by its ctx while the handler was cancelled: a stop is not an error")
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run did not return within %v after its ctx was cancelled", kafkatest.Wait)
	}
	require.Equal(t, seq(0, 2), seen, "values handled before the stop")
	require.EqualValues(t, 2, kafkatest.Committed(t, ep.Brokers, cfg.Group, topic, 0),
		"committed offset after m0, m1 succeeded and m2 was interrupted: want 2, so that m2 is delivered again; the commit must also happen when ctx is cancelled (use a context that is not)")
}
