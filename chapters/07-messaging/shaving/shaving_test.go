package shaving_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/shaving"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// store is the database write path, instrumented: it counts writes in flight and holds each one until the
// test lets it finish, so that the test, not the scheduler, decides how long writes take. The test releases a
// write by sending it a channel, which the write closes once it is no longer counted in flight.
type store struct {
	db       *sql.DB
	inflight atomic.Int32
	peak     atomic.Int32
	started  atomic.Int32
	gate     chan chan struct{}
}

func (s *store) apply(ctx context.Context, r *kgo.Record) error {
	s.started.Add(1)
	n := s.inflight.Add(1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	var finished chan struct{}
	select {
	case finished = <-s.gate: // nil once the gate is closed (writes not held)
	case <-ctx.Done():
		s.inflight.Add(-1)
		return ctx.Err()
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO orders (id) VALUES (?)", string(r.Key))
	s.inflight.Add(-1)
	if finished != nil {
		close(finished)
	}
	return err
}

func newStore(t *testing.T) *store {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	_, err = db.Exec("CREATE TABLE orders (id VARCHAR(64) PRIMARY KEY, created_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))")
	require.NoError(t, err)
	return &store{db: db, gate: make(chan chan struct{})}
}

func (s *store) count(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM orders").Scan(&n))
	return n
}

func groupClient(t *testing.T, ep infra.KafkaEndpoint, topic, group string) *kgo.Client {
	return kafkatest.Client(t, ep.Brokers, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
}

func burst(t *testing.T, ep infra.KafkaEndpoint, topic string, n int) time.Duration {
	t.Helper()
	var rs []*kgo.Record
	for i := range n {
		id := fmt.Sprintf("o-%04d", i)
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(id), Value: []byte(id)})
	}
	start := time.Now()
	kafkatest.Produce(t, kafkatest.Client(t, ep.Brokers), rs...)
	return time.Since(start)
}

func TestShavingAbsorbsABurstAtBoundedConcurrency(t *testing.T) {
	const n, limit = 400, 4
	s := newStore(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 4)
	group := ep.TopicPrefix + "writer"
	produced := burst(t, ep, topic, n) // the burst lands on the topic before any write happens

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cl := groupClient(t, ep, topic, group)
	// Goroutines before Drain; the client adds a few of its own once it polls (fetch, heartbeat, commit), far
	// fewer than maxExtra.
	const maxExtra = 50
	baseline := runtime.NumGoroutine()
	start := time.Now()
	go func() { done <- shaving.Drain(ctx, cl, limit, s.apply) }()

	// Let writes finish one at a time, each once the consumer has as many in flight as it may (or, at the end
	// of a poll or of the backlog, once no new write arrived for 20 ms). A consumer that does not use its
	// concurrency never reaches limit; one that does not bound it goes past limit while writes are held.
	deadline := time.Now().Add(60 * time.Second)
	starved := 0 // writes released while fewer than limit were in flight
	for released := 0; released < n; released++ {
		for quiet := time.Now(); ; time.Sleep(time.Millisecond) {
			select {
			case err := <-done:
				t.Fatalf("Drain returned %v with %d of %d orders written: it must keep consuming until its ctx is done", err, released, n)
			default:
			}
			if p := s.peak.Load(); p > limit {
				cancel()
				t.Fatalf("%d writes in flight at once (after %d of %d), want at most %d: the consumer must bound what it puts on the database, whatever the backlog",
					p, released, n, limit)
			}
			if s.inflight.Load() >= limit {
				// Writes are held: whatever Drain has set up for the records it has not applied yet is alive now.
				if extra := runtime.NumGoroutine() - baseline; extra > maxExtra {
					cancel()
					t.Fatalf("%d goroutines more than before Drain while %d writes are held (after %d of %d), want at most %d: "+
						"take a slot before starting a write's goroutine; a goroutine per record waiting for a slot piles the whole backlog up in memory",
						extra, limit, released, n, maxExtra)
				}
				break
			}
			if s.inflight.Load() > 0 && time.Since(quiet) > 20*time.Millisecond {
				// The end of a poll or of the backlog, or a consumer that does not use its concurrency. A good
				// consumer does this a few times per poll; the bound below is far above that.
				if starved++; starved > n/4 {
					cancel()
					t.Fatalf("after %d of %d writes, %d were released with fewer than %d in flight (peak %d): with a backlog the consumer should keep %d writes going, or the backlog drains that much slower",
						released, n, starved, limit, s.peak.Load(), limit)
				}
				break
			}
			if s.inflight.Load() == 0 && time.Since(quiet) > 2*time.Second {
				cancel()
				t.Fatalf("no write arrived for 2 s with %d of %d orders written (Drain returned: %v): every record of the burst must be written, none dropped",
					released, n, drainResult(done))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d orders written after 60 s", released, n)
			}
		}
		finished := make(chan struct{})
		select {
		case s.gate <- finished:
		case err := <-done:
			t.Fatalf("Drain returned %v with %d of %d orders written", err, released, n)
		case <-time.After(2 * time.Second):
			cancel()
			t.Fatalf("no write arrived for 2 s with %d of %d orders written (Drain returned: %v): every record of the burst must be written, none dropped",
				released, n, drainResult(done))
		}
		// Judge what the consumer does next only once the released write is over: it is no longer in flight,
		// and a consumer that keeps limit writes going starts the next one now.
		select {
		case <-finished:
		case <-time.After(kafkatest.Wait):
			cancel()
			t.Fatalf("a released write did not finish within %v (after %d of %d): the INSERT of one order is stuck", kafkatest.Wait, released, n)
		}
	}
	// Stop once every write is in and the group has committed the whole backlog.
	adm := kafkatest.Admin(t, ep.Brokers)
	for !(s.count(t) == n && kafkatest.CaughtUp(ctx, adm, group, topic)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	drained := time.Since(start)
	cancel()
	require.NoError(t, drainResult(done), "Drain after its ctx was cancelled")

	t.Logf("shaving: a burst of %d orders was on the topic in %v; written at most %d at a time (peak %d) in %v",
		n, produced.Round(time.Millisecond), limit, s.peak.Load(), drained.Round(time.Millisecond))
	require.Equal(t, n, s.count(t), "orders in the database after the burst was drained")
	require.EqualValues(t, n, s.started.Load(), "writes started: one per order")
	require.LessOrEqual(t, s.peak.Load(), int32(limit),
		"peak writes in flight = %d, want at most %d: the consumer must bound what it puts on the database, whatever the backlog", s.peak.Load(), limit)
	require.EqualValues(t, limit, s.peak.Load(),
		"peak writes in flight = %d, want %d: with a backlog the consumer should use the concurrency it is allowed, or the backlog drains %dx slower", s.peak.Load(), limit, limit)
	require.True(t, kafkatest.CaughtUp(context.Background(), adm, group, topic), "the group committed the end of every partition after everything was written")
}

func TestShavingStopsOnAFailedWrite(t *testing.T) {
	s := newStore(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	group := ep.TopicPrefix + "writer"
	burst(t, ep, topic, 10)
	close(s.gate) // writes are not held in this test
	errDB := errors.New("database is read-only")
	// Joining the group and reading 10 records takes about a second; a Drain that carries on after the failure
	// returns only when this ends.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	err := shaving.Drain(ctx, groupClient(t, ep, topic, group), 4, func(ctx context.Context, r *kgo.Record) error {
		if string(r.Key) == "o-0005" {
			return errDB
		}
		return s.apply(ctx, r)
	})
	require.ErrorIs(t, err, errDB, "Drain when a write fails: want the write's error, wrapped (a failed write must not be acknowledged)")
	require.LessOrEqual(t, kafkatest.Committed(t, ep.Brokers, group, topic, 0), int64(5),
		"committed offset after the write of offset 5 failed: nothing past it may be committed, or that order is lost")
}

func drainResult(done chan error) error {
	select {
	case err := <-done:
		return err
	case <-time.After(kafkatest.Wait):
		return fmt.Errorf("Drain did not return within %v", kafkatest.Wait)
	}
}
