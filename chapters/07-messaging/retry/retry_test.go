package retry_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/retry"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

type topics struct{ main, retry, dlq string }

func newRouter(t *testing.T, max int) (*retry.Router, topics, infra.KafkaEndpoint, *kgo.Client) {
	t.Helper()
	ep := infra.Kafka(t)
	tp := topics{kafkatest.Topic(t, ep, "orders", 1), kafkatest.Topic(t, ep, "orders-retry", 1), kafkatest.Topic(t, ep, "orders-dlq", 1)}
	cl := kafkatest.Client(t, ep.Brokers)
	return &retry.Router{Producer: cl, RetryTopic: tp.retry, DLQTopic: tp.dlq, MaxAttempts: max}, tp, ep, cl
}

// deliver plays the consumers of the main and the retry topic: it processes the original record, then every
// record that appears on the retry topic, until nothing new appears, at most limit times in all.
func deliver(t *testing.T, rt *retry.Router, ep infra.KafkaEndpoint, tp topics, cl *kgo.Client, limit int, h func(context.Context, *kgo.Record) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	kafkatest.Produce(t, cl, &kgo.Record{Topic: tp.main, Key: []byte("o-1"), Value: []byte(`{"order":"o-1"}`),
		Headers: []kgo.RecordHeader{{Key: "trace-id", Value: []byte("abc")}}})
	next := kafkatest.ReadAll(t, ep.Brokers, tp.main, 1)[0]
	for delivered := 1; ; delivered++ {
		require.NoError(t, rt.Process(ctx, next, h), "Process(%s, attempt %d)", next.Topic, retry.Attempt(next))
		retried := kafkatest.Count(t, ep.Brokers, tp.retry)
		if int(retried) < delivered {
			return // not sent for another attempt
		}
		if delivered == limit {
			t.Fatalf("record still sent for another attempt after %d deliveries (attempt header %d): the attempt count must grow with each retry, and the record must be dead-lettered at MaxAttempts", delivered, retry.Attempt(next))
		}
		next = kafkatest.ReadAll(t, ep.Brokers, tp.retry, delivered)[delivered-1]
	}
}

func TestRetryDeadLettersAfterMaxAttempts(t *testing.T) {
	rt, tp, ep, cl := newRouter(t, 3)
	var calls atomic.Int32
	deliver(t, rt, ep, tp, cl, 10, func(context.Context, *kgo.Record) error {
		calls.Add(1)
		return errors.New("payment service unavailable")
	})
	require.EqualValues(t, 3, calls.Load(), "handler calls for a record that always fails with MaxAttempts 3: the first attempt and two retries")
	retried := kafkatest.ReadAll(t, ep.Brokers, tp.retry, 2)
	for i, r := range retried {
		require.Equal(t, i+2, retry.Attempt(r), "attempt header of retry #%d", i+1)
	}
	require.EqualValues(t, 1, kafkatest.Count(t, ep.Brokers, tp.dlq), "records in the dead-letter topic")
	dead := kafkatest.ReadAll(t, ep.Brokers, tp.dlq, 1)[0]
	require.Equal(t, 3, retry.Attempt(dead), "attempt header of the dead-lettered record: the attempts it had")
	require.Equal(t, "o-1", string(dead.Key), "key of the dead-lettered record: keep the key (the order id), so a replay keeps its order")
	require.Equal(t, `{"order":"o-1"}`, string(dead.Value), "value of the dead-lettered record")
	require.Equal(t, "abc", kafkatest.Header(dead, "trace-id"), "headers of the original record must travel with it")
}

func TestRetryTransientFailureSucceedsOnRetry(t *testing.T) {
	rt, tp, ep, cl := newRouter(t, 3)
	var calls atomic.Int32
	deliver(t, rt, ep, tp, cl, 10, func(context.Context, *kgo.Record) error {
		if calls.Add(1) == 1 {
			return errors.New("deadlock, try again")
		}
		return nil
	})
	require.EqualValues(t, 2, calls.Load(), "handler calls: failed once, then succeeded")
	require.EqualValues(t, 1, kafkatest.Count(t, ep.Brokers, tp.retry), "records sent for another attempt")
	require.Equal(t, "o-1", string(kafkatest.ReadAll(t, ep.Brokers, tp.retry, 1)[0].Key), "key of the retried record")
	require.Zero(t, kafkatest.Count(t, ep.Brokers, tp.dlq), "records dead-lettered for a failure that passed on retry")
}

func TestRetryPermanentFailureIsDeadLetteredAtOnce(t *testing.T) {
	rt, tp, ep, cl := newRouter(t, 3)
	var calls atomic.Int32
	deliver(t, rt, ep, tp, cl, 10, func(context.Context, *kgo.Record) error {
		calls.Add(1)
		return fmt.Errorf("decode order: unexpected end of JSON: %w", retry.ErrPermanent)
	})
	require.EqualValues(t, 1, calls.Load(), "handler calls for a malformed record: retrying cannot fix it")
	require.Zero(t, kafkatest.Count(t, ep.Brokers, tp.retry), "records sent for another attempt after a permanent failure")
	require.EqualValues(t, 1, kafkatest.Count(t, ep.Brokers, tp.dlq), "records dead-lettered")
}

func TestRetryAttemptReadsTheHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []kgo.RecordHeader
		want   int
	}{
		{"no header: first attempt", nil, 1},
		{"attempt 3", []kgo.RecordHeader{{Key: retry.AttemptHeader, Value: []byte("3")}}, 3},
		{"zero is not an attempt", []kgo.RecordHeader{{Key: retry.AttemptHeader, Value: []byte("0")}}, 1},
		{"negative is not an attempt", []kgo.RecordHeader{{Key: retry.AttemptHeader, Value: []byte("-2")}}, 1},
		{"not a number", []kgo.RecordHeader{{Key: retry.AttemptHeader, Value: []byte("x")}}, 1},
		{"other headers ignored", []kgo.RecordHeader{{Key: "trace-id", Value: []byte("7")}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, retry.Attempt(&kgo.Record{Headers: tc.header}), "Attempt(%v)", tc.header)
		})
	}
}

type failing struct{ err error }

func (f failing) ProduceSync(_ context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	var res kgo.ProduceResults
	for _, r := range rs {
		res = append(res, kgo.ProduceResult{Record: r, Err: f.err})
	}
	return res
}

func TestRetryReportsAFailedRepublish(t *testing.T) {
	errBroker := errors.New("NOT_LEADER_FOR_PARTITION")
	rt := &retry.Router{Producer: failing{errBroker}, RetryTopic: "retry", DLQTopic: "dlq", MaxAttempts: 3}
	r := &kgo.Record{Topic: "orders", Key: []byte("o-1"), Value: []byte("x")}
	for _, tc := range []struct {
		name string
		err  error
	}{{"retry", errors.New("timeout")}, {"dead letter", retry.ErrPermanent}} {
		err := rt.Process(context.Background(), r, func(context.Context, *kgo.Record) error { return tc.err })
		require.ErrorIs(t, err, errBroker, "Process when republishing to the %s topic fails: want the produce error, wrapped, so that the caller does not commit the record (or it is lost)", tc.name)
	}
}

// Delayed close of unpaid orders.

var t0 = time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC) // not the wall clock: the Closer must use its own

type clock struct{ now atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time   { return *c.now.Load() }
func (c *clock) set(t time.Time)  { c.now.Store(&t) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func newOrders(t *testing.T, rows map[string]string) *sql.DB {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	_, err = db.Exec("CREATE TABLE orders (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL)")
	require.NoError(t, err)
	for id, status := range rows {
		_, err := db.Exec("INSERT INTO orders VALUES (?, ?)", id, status)
		require.NoError(t, err)
	}
	return db
}

func status(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	var s string
	require.NoError(t, db.QueryRow("SELECT status FROM orders WHERE id = ?", id).Scan(&s))
	return s
}

func TestRetryCloseUnpaidOrderOnlyWhenDue(t *testing.T) {
	db := newOrders(t, map[string]string{"o-1": "unpaid"})
	clk := newClock(t0)
	c := &retry.Closer{DB: db, Now: clk.Now, Delay: 15 * time.Minute, Topic: "close-orders"}
	req := c.Request("o-1")
	ctx := context.Background()

	clk.set(t0.Add(10 * time.Minute))
	closed, err := c.Close(ctx, req)
	require.ErrorIs(t, err, retry.ErrNotDue, "Close 10 min after placing with Delay 15 min: too early, and the request must be kept (ErrNotDue), not dropped")
	require.False(t, closed)
	require.Equal(t, "unpaid", status(t, db, "o-1"), "status of o-1 before its close request was due")

	clk.set(t0.Add(15 * time.Minute))
	closed, err = c.Close(ctx, req)
	require.NoError(t, err, "Close when due")
	require.True(t, closed, "Close of an unpaid order when due = closed false, want true")
	require.Equal(t, "closed", status(t, db, "o-1"))
}

func TestRetryCloseIsNotDueEvenAMillisecondEarly(t *testing.T) {
	db := newOrders(t, map[string]string{"o-1": "unpaid"})
	placed := t0.Add(750 * time.Millisecond) // orders are placed at any instant, not on whole seconds
	clk := newClock(placed)
	c := &retry.Closer{DB: db, Now: clk.Now, Delay: 15 * time.Minute, Topic: "close-orders"}
	req := c.Request("o-1")
	ctx := context.Background()

	clk.set(placed.Add(15*time.Minute - time.Millisecond))
	closed, err := c.Close(ctx, req)
	require.ErrorIs(t, err, retry.ErrNotDue,
		"Close 1 ms before Delay has passed (placed at %s) = (%v, %v), want ErrNotDue: the due time must keep its fraction of a second (RFC3339Nano), or a request is due up to a second early",
		placed.Format(time.RFC3339Nano), closed, err)
	require.Equal(t, "unpaid", status(t, db, "o-1"), "status of o-1 1 ms before its close request was due")

	clk.set(placed.Add(15 * time.Minute))
	closed, err = c.Close(ctx, req)
	require.NoError(t, err, "Close exactly when due")
	require.True(t, closed, "Close of an unpaid order exactly when due = closed false, want true")
}

func TestRetryCloseNeverClosesAPaidOrder(t *testing.T) {
	db := newOrders(t, map[string]string{"o-1": "paid"})
	clk := newClock(t0)
	c := &retry.Closer{DB: db, Now: clk.Now, Delay: 15 * time.Minute, Topic: "close-orders"}
	req := c.Request("o-1")
	clk.set(t0.Add(time.Hour))
	closed, err := c.Close(context.Background(), req)
	require.NoError(t, err, "Close of a paid order: nothing to do is not an error")
	require.False(t, closed, "Close of a paid order = closed true")
	require.Equal(t, "paid", status(t, db, "o-1"), "status of a paid order after its close request: a paid order must never be closed")
}

func TestRetryClosePaymentCommittingMeanwhileWins(t *testing.T) {
	db := newOrders(t, map[string]string{"o-1": "unpaid"})
	clk := newClock(t0)
	c := &retry.Closer{DB: db, Now: clk.Now, Delay: 15 * time.Minute, Topic: "close-orders"}
	req := c.Request("o-1")
	clk.set(t0.Add(time.Hour))

	// The payment is being written: its transaction has set o-1 to paid and not committed yet.
	pay, err := db.Begin()
	require.NoError(t, err)
	defer pay.Rollback()
	_, err = pay.Exec("UPDATE orders SET status = 'paid' WHERE id = 'o-1' AND status = 'unpaid'")
	require.NoError(t, err)

	var finished atomic.Int32
	type result struct {
		closed bool
		err    error
	}
	res := make(chan result, 1)
	go func() {
		closed, err := c.Close(context.Background(), req)
		finished.Add(1)
		res <- result{closed, err}
	}()
	locktest.WaitForWaiters(t, db, 1, func() int { return int(finished.Load()) })
	require.NoError(t, pay.Commit())
	r := <-res
	require.NoError(t, r.err, "Close while a payment commits%s", locktest.Explain(r.err))
	require.False(t, r.closed, "Close while a payment of the same order commits = closed true")
	require.Equal(t, "paid", status(t, db, "o-1"),
		"status after a payment committed while the close ran: the close must decide on the latest status in its UPDATE's WHERE (status = 'unpaid'), not on a status it read before")
}
