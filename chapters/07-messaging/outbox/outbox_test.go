package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/idem"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/outbox"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

func newDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	for _, stmt := range append(outbox.Schema, idem.Schema,
		"CREATE TABLE effects (order_id VARCHAR(64) PRIMARY KEY, n INT NOT NULL)") {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return db
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(query).Scan(&n), query)
	return n
}

func unpublished(t *testing.T, db *sql.DB) int {
	return count(t, db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
}

func place(t *testing.T, db *sql.DB, topic string, ids ...string) {
	t.Helper()
	for i, id := range ids {
		require.NoError(t, outbox.PlaceOrder(context.Background(), db, topic, outbox.Order{ID: id, UserID: int64(i + 1), Total: 100}), "PlaceOrder(%s)", id)
	}
}

func orderIDs(prefix string, n int) []string {
	var ids []string
	for i := 1; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("%s-%03d", prefix, i))
	}
	return ids
}

// producer wraps a real producer with hooks the tests use to fail, block or "crash" a relay.
type producer struct {
	real   outbox.Producer
	before func(call int) error // runs before the real produce; an error fails it
	after  func(call int)       // runs after a successful produce
	mu     sync.Mutex
	calls  int
}

func (p *producer) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	p.mu.Lock()
	p.calls++
	call := p.calls
	p.mu.Unlock()
	if p.before != nil {
		if err := p.before(call); err != nil {
			var res kgo.ProduceResults
			for _, r := range rs {
				res = append(res, kgo.ProduceResult{Record: r, Err: err})
			}
			return res
		}
	}
	res := p.real.ProduceSync(ctx, rs...)
	if p.after != nil && res.FirstErr() == nil {
		p.after(call)
	}
	return res
}

// messageIDs returns how many times each message id appears among rs.
func messageIDs(t *testing.T, rs []*kgo.Record) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, r := range rs {
		id := kafkatest.Header(r, outbox.MessageIDHeader)
		require.NotEmpty(t, id, "record %s has no %q header: the consumer needs the outbox row's id to drop duplicates", r.Key, outbox.MessageIDHeader)
		ids[id]++
	}
	return ids
}

func TestOutboxPlaceOrderIsAtomic(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	require.NoError(t, outbox.PlaceOrder(ctx, db, "orders", outbox.Order{ID: "o-1", UserID: 1, Total: 100}))
	require.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM outbox WHERE msg_key = 'o-1' AND topic = 'orders'"),
		"outbox rows for o-1 on topic orders after PlaceOrder: the event is a row written with the order")

	// The order insert fails (o-1 exists): its event must not be in the outbox either.
	err := outbox.PlaceOrder(ctx, db, "orders", outbox.Order{ID: "o-1", UserID: 2, Total: 50})
	require.Error(t, err, "PlaceOrder of an order id that exists")
	require.Equal(t, 1, count(t, db, "SELECT COUNT(*) FROM outbox"),
		"outbox rows after a PlaceOrder that failed: a rolled-back order must publish nothing")

	// The event insert fails (a trigger refuses it): the order must not exist either.
	_, err = db.Exec(`CREATE TRIGGER refuse_o2 BEFORE INSERT ON outbox FOR EACH ROW
		BEGIN IF NEW.msg_key = 'o-2' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'outbox refused'; END IF; END`)
	require.NoError(t, err)
	err = outbox.PlaceOrder(ctx, db, "orders", outbox.Order{ID: "o-2", UserID: 2, Total: 50})
	require.Error(t, err, "PlaceOrder when the event cannot be written")
	require.Equal(t, 0, count(t, db, "SELECT COUNT(*) FROM orders WHERE id = 'o-2'"),
		"orders o-2 after its event could not be written: the order and its event commit together or not at all (no dual write)")
}

func TestOutboxRelayPublishesOnceWithMessageID(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 3)
	place(t, db, topic, orderIDs("o", 5)...)
	relay := &outbox.Relay{DB: db, Producer: kafkatest.Client(t, ep.Brokers), Batch: 10}
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()

	n, err := relay.RunOnce(ctx)
	require.NoError(t, err, "RunOnce")
	require.Equal(t, 5, n, "RunOnce with 5 rows waiting")
	require.Equal(t, 0, unpublished(t, db), "unpublished rows after RunOnce published them: mark them, or every run publishes them again")
	n, err = relay.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, n, "RunOnce with nothing waiting")

	rs := kafkatest.ReadAll(t, ep.Brokers, topic, 5)
	require.EqualValues(t, 5, kafkatest.Count(t, ep.Brokers, topic), "records in the topic after two runs over 5 rows")
	ids := messageIDs(t, rs)
	require.Len(t, ids, 5, "distinct message ids among the 5 records")
	for _, r := range rs {
		var o outbox.Order
		require.NoError(t, json.Unmarshal(r.Value, &o), "record value %q", r.Value)
		require.Equal(t, o.ID, string(r.Key), "record key: the order id, so that one order's events stay in order")
	}
}

func TestOutboxTwoRelaysNeverPublishARowTwice(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 3)
	place(t, db, topic, orderIDs("o", 20)...)
	cl := kafkatest.Client(t, ep.Brokers)

	// Relay A takes a batch and stalls while publishing it (a slow broker), holding its rows.
	inA, releaseA := make(chan struct{}), make(chan struct{})
	a := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: cl, before: func(call int) error {
		if call == 1 {
			close(inA)
			<-releaseA
		}
		return nil
	}}}
	b := &outbox.Relay{DB: db, Batch: 10, Producer: cl}
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	doneA := make(chan error, 1)
	go func() { _, err := a.RunOnce(ctx); doneA <- err }()
	select {
	case <-inA:
	case err := <-doneA:
		t.Fatalf("relay A's RunOnce returned %v before publishing", err)
	}

	// Meanwhile relay B runs. It must neither wait for A's rows nor publish them.
	start := time.Now()
	n, err := b.RunOnce(ctx)
	close(releaseA)
	require.NoError(t, err, "relay B's RunOnce while relay A holds a batch%s: B should take the rows A does not hold (FOR UPDATE SKIP LOCKED)", locktest.Explain(err))
	require.Less(t, time.Since(start), infra.MySQLLockWaitTimeout,
		"relay B waited %v while relay A published: it must skip A's locked rows, not wait for them", time.Since(start))
	require.Equal(t, 10, n, "rows relay B published while relay A held the first 10 of 20")
	require.NoError(t, <-doneA, "relay A's RunOnce")

	rs := kafkatest.ReadAll(t, ep.Brokers, topic, 20)
	for id, times := range messageIDs(t, rs) {
		require.Equal(t, 1, times, "message %s was published %d times by two relays: lock the batch (FOR UPDATE) so that only one relay publishes a row", id, times)
	}
	require.EqualValues(t, 20, kafkatest.Count(t, ep.Brokers, topic), "records published by two relays over 20 rows")
	require.Equal(t, 0, unpublished(t, db))
}

func TestOutboxMarksOnlyWhatItPublished(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	place(t, db, topic, orderIDs("o", 3)...)

	// The relay takes the 3 waiting rows and stalls while publishing them (a slow broker).
	in, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	defer let()
	relay := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: kafkatest.Client(t, ep.Brokers), before: func(call int) error {
		if call == 1 {
			close(in)
			<-release
		}
		return nil
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := relay.RunOnce(ctx); done <- err }()
	select {
	case <-in:
	case err := <-done:
		t.Fatalf("RunOnce returned %v before publishing the 3 waiting rows", err)
	}

	// Meanwhile a customer places an order: its event row commits after the relay chose its batch.
	err := outbox.PlaceOrder(ctx, db, topic, outbox.Order{ID: "late", UserID: 9, Total: 100})
	require.NoError(t, err, "PlaceOrder while the relay publishes a batch%s: the relay locks only the rows it took (READ COMMITTED, no gap locks), a new order must not wait for it", locktest.Explain(err))
	let()
	require.NoError(t, <-done, "RunOnce")

	late := "SELECT COUNT(*) FROM outbox WHERE msg_key = 'late' AND published_at IS NULL"
	require.Equal(t, 1, count(t, db, late),
		"unpublished outbox rows of order late after the RunOnce that was publishing when it was placed = %d, want 1: that run never sent it; a row marked published that was never sent is a lost message (mark exactly the ids you published)", count(t, db, late))
	n, err := relay.RunOnce(ctx)
	require.NoError(t, err, "second RunOnce")
	require.Equal(t, 1, n, "second RunOnce with the late order waiting")

	rs := kafkatest.ReadAll(t, ep.Brokers, topic, 4)
	require.EqualValues(t, 4, kafkatest.Count(t, ep.Brokers, topic), "records after two runs over 4 orders: every order published exactly once")
	ids := messageIDs(t, rs)
	require.Len(t, ids, 4, "distinct message ids among the 4 records")
	keys := map[string]bool{}
	for _, r := range rs {
		keys[string(r.Key)] = true
	}
	require.True(t, keys["late"], "records keyed late = none, want one: the order placed during a publish must be published by a later run")
	require.Equal(t, 0, unpublished(t, db), "unpublished rows after the second RunOnce")
}

func TestOutboxKeepsRowsWhenPublishingFails(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	place(t, db, topic, orderIDs("o", 3)...)
	errBroker := errors.New("NOT_ENOUGH_REPLICAS")
	relay := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: kafkatest.Client(t, ep.Brokers), before: func(call int) error {
		if call == 1 {
			return errBroker
		}
		return nil
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	_, err := relay.RunOnce(ctx)
	require.ErrorIs(t, err, errBroker, "RunOnce when the broker refuses the batch: want the produce error, wrapped")
	require.Equal(t, 3, unpublished(t, db),
		"unpublished rows after a failed publish: the rows must stay (not deleted, not marked) so that a later run publishes them")

	n, err := relay.RunOnce(ctx)
	require.NoError(t, err, "RunOnce once the broker accepts again")
	require.Equal(t, 3, n, "rows published once the broker accepts again")
	require.Len(t, messageIDs(t, kafkatest.ReadAll(t, ep.Brokers, topic, 3)), 3)
}

func TestOutboxBrokerKilledThenBackStillDelivers(t *testing.T) {
	db := newDB(t)
	const topic = "orders"
	broker := kafkatest.OwnBroker(t, topic)
	place(t, db, topic, orderIDs("o", 3)...)
	relay := &outbox.Relay{DB: db, Batch: 10, Producer: kafkatest.Client(t, []string{broker.Addr})}

	broker.Kill(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := relay.RunOnce(ctx)
	cancel()
	require.Error(t, err, "RunOnce while the broker is down")
	require.Equal(t, 3, unpublished(t, db), "unpublished rows while the broker is down: the committed orders keep their events")

	broker.Start(t)
	ctx, cancel = context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	n, err := relay.RunOnce(ctx)
	require.NoError(t, err, "RunOnce once the broker is back")
	require.Equal(t, 3, n)
	require.Len(t, messageIDs(t, kafkatest.ReadAll(t, []string{broker.Addr}, topic, 3)), 3, "distinct events delivered after the broker came back")
}

func TestOutboxCrashAfterPublishIsAbsorbedByTheConsumer(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	place(t, db, topic, orderIDs("o", 4)...)

	// The relay publishes its batch and dies before it marks the rows (its context ends, as its process would).
	ctx, crash := context.WithCancel(context.Background())
	crashing := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: kafkatest.Client(t, ep.Brokers), after: func(int) { crash() }}}
	_, err := crashing.RunOnce(ctx)
	require.Error(t, err, "RunOnce whose context ended after publishing: it could not mark the rows")
	require.Equal(t, 4, unpublished(t, db), "unpublished rows after a relay died between publish and mark")

	// A new relay publishes them again: the topic has every event twice, with the same message ids.
	ctx2, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	n, err := (&outbox.Relay{DB: db, Batch: 10, Producer: kafkatest.Client(t, ep.Brokers)}).RunOnce(ctx2)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	rs := kafkatest.ReadAll(t, ep.Brokers, topic, 8)
	ids := messageIDs(t, rs)
	require.Len(t, ids, 4, "distinct message ids among 8 records: a republished row must carry the same id")

	// The idempotent consumer applies each order once.
	c := &idem.Consumer{DB: db, Name: "shipping"}
	dups := 0
	for _, r := range rs {
		applied, err := c.Handle(ctx2, kafkatest.Header(r, outbox.MessageIDHeader), func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO effects (order_id, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1", string(r.Key))
			return err
		})
		require.NoError(t, err)
		if !applied {
			dups++
		}
	}
	require.Equal(t, 4, dups, "duplicates absorbed")
	require.Equal(t, 4, count(t, db, "SELECT COUNT(*) FROM effects WHERE n = 1"), "orders applied exactly once")
}

// waitUnpublished waits until no outbox row is left unpublished. It fails the test at once if Run returns first
// (done receives Run's result): Run must keep going until its context ends.
func waitUnpublished(t *testing.T, db *sql.DB, done <-chan error, what string) {
	t.Helper()
	deadline := time.After(kafkatest.Wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for unpublished(t, db) > 0 {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v with %d rows unpublished, want it to keep running until its context ends: %s",
				err, unpublished(t, db), what)
		case <-deadline:
			t.Fatalf("after %v, %d outbox rows are still unpublished: %s", kafkatest.Wait, unpublished(t, db), what)
		case <-tick.C:
		}
	}
}

func TestOutboxRunKeepsGoingAfterErrors(t *testing.T) {
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	place(t, db, topic, orderIDs("o", 3)...)
	// The broker refuses the first two publishes (a short outage), then accepts.
	errBroker := errors.New("NOT_ENOUGH_REPLICAS")
	relay := &outbox.Relay{DB: db, Batch: 10, Producer: &producer{real: kafkatest.Client(t, ep.Brokers), before: func(call int) error {
		if call <= 2 {
			return errBroker
		}
		return nil
	}}}
	var mu sync.Mutex
	var reported []error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- relay.Run(ctx, 10*time.Millisecond, func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		})
	}()
	waitUnpublished(t, db, done,
		"a relay that stops at the first failed publish leaves the outbox growing until someone restarts it; report the error (onErr) and try again")
	mu.Lock()
	require.Len(t, reported, 2, "errors reported to onErr while the broker refused two publishes")
	for _, err := range reported {
		require.ErrorIs(t, err, errBroker, "error reported to onErr: want the produce error, wrapped")
	}
	mu.Unlock()
	require.Len(t, messageIDs(t, kafkatest.ReadAll(t, ep.Brokers, topic, 3)), 3, "distinct events published after the outage")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run after its context was cancelled: stopping is not an error")
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run still running %v after its context was cancelled, want it to return: a relay must stop when its service shuts down", kafkatest.Wait)
	}
}

func TestOutboxRunDrainsABacklogWithoutWaiting(t *testing.T) {
	const batch = 10
	db := newDB(t)
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", 1)
	place(t, db, topic, orderIDs("o", 5*batch)...)
	relay := &outbox.Relay{DB: db, Batch: batch, Producer: kafkatest.Client(t, ep.Brokers)}

	// The interval is an hour: a relay that waits it after a full batch publishes one batch in this test and no
	// more. After a full batch there may be more rows, so Run must go on at once; it waits only when the outbox
	// is (nearly) empty. Otherwise a backlog of N rows takes N/Batch intervals, and events lag behind by minutes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx, time.Hour, nil) }()
	waitUnpublished(t, db, done,
		"Run(every = 1 h) with a backlog of 5 full batches: after a full batch, run again at once instead of waiting the interval")
	require.Len(t, messageIDs(t, kafkatest.ReadAll(t, ep.Brokers, topic, 5*batch)), 5*batch, "distinct events published from the backlog")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run after its context was cancelled")
	case <-time.After(kafkatest.Wait):
		t.Fatalf("Run(every = 1 h) still running %v after its context was cancelled, want it to return at once: wait with select on ctx.Done(), not time.Sleep", kafkatest.Wait)
	}
}
