package rabbit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/gomicrolab/microlab/infra"
)

// These tests run against a real RabbitMQ (a vhost of their own) and a real MySQL (a database of their own).
// The handler they give the consumer inserts one ledger row per application, with no unique key: a message
// applied twice shows up as two rows.

// wait bounds every wait for the broker or the consumer. Deliveries take milliseconds; the margin is for a
// loaded machine.
const wait = 20 * time.Second

type rig struct {
	url  string
	db   *sql.DB
	topo Topology
	ch   *amqp.Channel // the test's own channel, for publishing and inspecting queues
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ep := infra.RabbitMQ(t)
	db, err := sql.Open("mysql", infra.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range []string{Schema, `CREATE TABLE ledger (
		id INT AUTO_INCREMENT PRIMARY KEY, message_id VARCHAR(128) NOT NULL, body VARCHAR(255) NOT NULL)`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("create table: %v", err)
		}
	}
	r := &rig{url: ep.URL, db: db, topo: Topology{
		Exchange: "orders", RoutingKey: "order.paid", Queue: "payments",
		DeadLetterExchange: "orders.dlx", DeadLetterQueue: "payments.dead",
	}}
	conn := r.dial(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	r.ch = ch
	if err := r.topo.Declare(ch); err != nil {
		t.Fatalf("Topology.Declare() = %v, want nil: publishers and consumers need the exchange, the queue and the dead-letter exchange", err)
	}
	return r
}

func (r *rig) dial(t *testing.T) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(r.url)
	if err != nil {
		t.Fatalf("amqp.Dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// publish sends messages the way a correct publisher does (confirmed, persistent, with a message id), so that
// the consumer tests do not depend on Publisher.
func (r *rig) publish(t *testing.T, ids ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, id := range ids {
		dc, err := r.ch.PublishWithDeferredConfirmWithContext(ctx, r.topo.Exchange, r.topo.RoutingKey, true, false,
			amqp.Publishing{MessageId: id, Body: []byte("body of " + id), DeliveryMode: amqp.Persistent})
		if err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			t.Fatalf("confirm of %s = %v, %v", id, ok, err)
		}
	}
}

// ready returns how many messages of queue are ready: stored by the broker and not delivered to a consumer.
func (r *rig) ready(t *testing.T, queue string) int {
	t.Helper()
	q, err := r.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages
}

// applied returns how many times the effect of message id was committed.
func (r *rig) applied(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := r.db.QueryRow("SELECT COUNT(*) FROM ledger WHERE message_id = ?", id).Scan(&n); err != nil {
		t.Fatalf("count ledger rows: %v", err)
	}
	return n
}

func (r *rig) markers(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := r.db.QueryRow("SELECT COUNT(*) FROM processed_messages WHERE message_id = ?", id).Scan(&n); err != nil {
		t.Fatalf("count processed_messages rows: %v", err)
	}
	return n
}

// record is the effect: one ledger row in the consumer's transaction.
func record(ctx context.Context, tx *sql.Tx, m Message) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO ledger (message_id, body) VALUES (?, ?)", m.ID, string(m.Body))
	return err
}

// running is a consumer started by start.
type running struct {
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run returned
	err      error         // what Run returned, valid once finished is closed
}

// start runs c on conn (a new connection if nil); stop, or the end of the test, stops it.
func (r *rig) start(t *testing.T, c *Consumer, conn *amqp.Connection) *running {
	t.Helper()
	if conn == nil {
		conn = r.dial(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(run.finished)
		run.err = c.Run(ctx, conn)
	}()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// stop cancels Run and waits until it returned, which it does only after its deliveries are finished.
func (run *running) stop(t *testing.T) error {
	t.Helper()
	run.cancel()
	select {
	case <-run.finished:
		return run.err
	case <-time.After(wait):
		t.Fatalf("Consumer.Run did not return within %v of its ctx being cancelled: it must stop consuming and wait for the deliveries it started", wait)
	}
	return nil
}

// waitFor polls cond until it holds, failing with msg after wait.
func waitFor(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", wait, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) consumer(handle Handler) *Consumer {
	return &Consumer{Name: "payments", DB: r.db, Queue: r.topo.Queue, Handle: handle, Prefetch: 4, MaxAttempts: 3}
}

// TestRabbitAckAfterCommit kills the consumer (its connection closes) in the middle of a message, before the ack,
// and starts a new one: the message must come back and be applied exactly once.
func TestRabbitAckAfterCommit(t *testing.T) {
	tests := []struct {
		name string
		// crash is what the handler does on the first delivery after closing the connection: fail (the effect
		// is not committed) or succeed (the effect commits, the ack can no longer be sent).
		crashErr error
		why      string
	}{
		{"killed before the commit", errors.New("process killed"),
			"the message was acked before its effect committed (or auto-acked), so the crash lost it"},
		{"killed after the commit", nil,
			"the redelivery of a message whose effect had committed must be recognised by its processed_messages row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			var calls atomic.Int32
			var conn *amqp.Connection
			c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
				if err := record(ctx, tx, m); err != nil {
					return err
				}
				if calls.Add(1) == 1 {
					_ = conn.Close() // the process dies: no ack or nack can reach the broker any more
					return tt.crashErr
				}
				return nil
			})
			c.Prefetch = 1
			conn = r.dial(t)
			first := r.start(t, c, conn)
			r.publish(t, "pay-1")
			select {
			case <-first.finished:
			case <-time.After(wait):
				t.Fatalf("Consumer.Run did not return within %v after its connection closed: it must return an error so the caller can reconnect", wait)
			}
			if first.err == nil {
				t.Errorf("Consumer.Run after its connection closed = nil, want an error: nil means a clean stop, and the caller would not reconnect")
			}
			waitFor(t, fmt.Sprintf("queue %s has no ready message after the consumer died holding pay-1: %s", r.topo.Queue, tt.why),
				func() bool { return r.ready(t, r.topo.Queue) == 1 })

			// A new consumer; with prefetch 1 it takes the redelivered pay-1 before the later pay-2.
			second := r.start(t, c, nil)
			r.publish(t, "pay-2")
			waitFor(t, "pay-2 was not applied by the restarted consumer", func() bool { return r.applied(t, "pay-2") == 1 })
			if err := second.stop(t); err != nil {
				t.Errorf("Consumer.Run after cancel = %v, want nil", err)
			}
			if got := r.applied(t, "pay-1"); got != 1 {
				t.Errorf("pay-1 applied %d times after a crash and a restart, want 1: %s", got, tt.why)
			}
			if got := r.ready(t, r.topo.Queue); got != 0 {
				t.Errorf("%d messages still in %s after both were applied, want 0: every applied message must be acked, duplicates too", got, r.topo.Queue)
			}
		})
	}
}

// TestRabbitPrefetch holds every handler and checks that the consumer runs Prefetch of them at once, and that
// the broker keeps the rest.
func TestRabbitPrefetch(t *testing.T) {
	r := newRig(t)
	const prefetch, total = 3, 12
	var inflight, most atomic.Int32
	gate := make(chan struct{})
	c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			old := most.Load()
			if n <= old || most.CompareAndSwap(old, n) {
				break
			}
		}
		<-gate
		return record(ctx, tx, m)
	})
	c.Prefetch = prefetch
	var ids []string
	for i := range total {
		ids = append(ids, fmt.Sprintf("order-%02d", i))
	}
	r.publish(t, ids...)
	run := r.start(t, c, nil)
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()

	waitFor(t, fmt.Sprintf("%d handlers run at once with Prefetch %d, want %d: Run must handle deliveries concurrently, up to Prefetch",
		inflight.Load(), prefetch, prefetch), func() bool { return inflight.Load() >= prefetch })
	// The broker sends nothing beyond the prefetch while those are unacked (it answers this query only after it
	// handled the consumer's registration, so a consumer without QoS has taken everything by then).
	if got := r.ready(t, r.topo.Queue); got != total-prefetch {
		t.Fatalf("ready in %s with %d handlers blocked = %d, want %d: set the prefetch with Qos before Consume, or the broker pushes every message to one consumer",
			r.topo.Queue, prefetch, got, total-prefetch)
	}
	release()
	waitFor(t, "not every message was applied", func() bool {
		var n int
		_ = r.db.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&n)
		return n == total
	})
	if err := run.stop(t); err != nil {
		t.Errorf("Consumer.Run after cancel = %v, want nil", err)
	}
	if got := most.Load(); got > prefetch {
		t.Errorf("%d handlers ran at once with Prefetch %d: the prefetch must bound the work in flight", got, prefetch)
	}
}

// TestRabbitGracefulStop cancels Run while a handler is in progress: that delivery must still be committed and
// acked, and Run must wait for it.
func TestRabbitGracefulStop(t *testing.T) {
	r := newRig(t)
	entered, gate := make(chan struct{}), make(chan struct{})
	c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
		close(entered)
		<-gate
		return record(ctx, tx, m)
	})
	run := r.start(t, c, nil)
	r.publish(t, "in-progress")
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatalf("the handler was not called within %v", wait)
	}
	run.cancel() // the service is asked to stop while the handler works
	select {
	case <-run.finished:
		close(gate)
		t.Fatalf("Consumer.Run returned (%v) while a handler was still running: it must wait for the deliveries it started", run.err)
	default:
	}
	close(gate)
	if err := run.stop(t); err != nil {
		t.Errorf("Consumer.Run after cancel = %v, want nil", err)
	}
	if got := r.applied(t, "in-progress"); got != 1 {
		t.Errorf("the message in progress when Run was cancelled was applied %d times, want 1: finish the deliveries in progress with a context the stop does not cancel", got)
	}
	if got := r.ready(t, r.topo.Queue); got != 0 {
		t.Errorf("%d messages back in %s after a graceful stop, want 0: the delivery in progress must be committed and acked, not rolled back and requeued", got, r.topo.Queue)
	}
}

// TestRabbitPoisonMessage: a message whose handler always fails is tried MaxAttempts times, then dead-lettered;
// one that fails only at first is applied once.
func TestRabbitPoisonMessage(t *testing.T) {
	t.Run("always fails", func(t *testing.T) {
		r := newRig(t)
		var calls atomic.Int32
		c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
			calls.Add(1)
			if err := record(ctx, tx, m); err != nil {
				return err
			}
			return errors.New("amount is not a number")
		})
		r.start(t, c, nil)
		r.publish(t, "poison")
		var dead amqp.Delivery
		waitFor(t, fmt.Sprintf("the poison message is not in the dead-letter queue %s after %d attempts (MaxAttempts %d)",
			r.topo.DeadLetterQueue, calls.Load(), c.MaxAttempts), func() bool {
			if n := calls.Load(); n > int32(c.MaxAttempts) {
				t.Fatalf("handler called %d times with MaxAttempts %d: a poison message must not be requeued for ever", n, c.MaxAttempts)
			}
			d, ok, err := r.ch.Get(r.topo.DeadLetterQueue, true)
			if err != nil {
				t.Fatalf("get from %s: %v", r.topo.DeadLetterQueue, err)
			}
			dead = d
			return ok
		})
		if got := calls.Load(); got != int32(c.MaxAttempts) {
			t.Errorf("handler called %d times before dead-lettering, want MaxAttempts = %d", got, c.MaxAttempts)
		}
		if dead.MessageId != "poison" {
			t.Errorf("dead-lettered message id = %q, want poison", dead.MessageId)
		}
		if deaths, _ := dead.Headers["x-death"].([]any); len(deaths) == 0 {
			t.Errorf("dead-lettered message has no x-death header (%v): it must come from the queue's dead-letter exchange", dead.Headers)
		}
		if got := r.applied(t, "poison") + r.markers(t, "poison"); got != 0 {
			t.Errorf("a failed handler left %d rows (ledger and processed_messages), want 0: its transaction must roll back", got)
		}
		if got := r.ready(t, r.topo.Queue); got != 0 {
			t.Errorf("%d messages still in %s, want 0", got, r.topo.Queue)
		}
	})
	t.Run("fails twice then succeeds", func(t *testing.T) {
		r := newRig(t)
		var calls atomic.Int32
		c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
			if err := record(ctx, tx, m); err != nil {
				return err
			}
			if calls.Add(1) < 3 {
				return errors.New("payment service unavailable")
			}
			return nil
		})
		run := r.start(t, c, nil)
		r.publish(t, "flaky")
		waitFor(t, fmt.Sprintf("flaky was not applied after %d attempts (MaxAttempts %d): a failed message must be requeued until its last attempt",
			calls.Load(), c.MaxAttempts), func() bool { return r.applied(t, "flaky") > 0 })
		_ = run.stop(t)
		if got := r.applied(t, "flaky"); got != 1 {
			t.Errorf("flaky applied %d times, want 1: the failed attempts must roll back", got)
		}
		if _, ok, _ := r.ch.Get(r.topo.DeadLetterQueue, true); ok {
			t.Errorf("flaky, which succeeded on its 3rd attempt, is in the dead-letter queue")
		}
	})
}

// TestRabbitDuplicates publishes the same message id twice: one after the other, and handled at the same time.
func TestRabbitDuplicates(t *testing.T) {
	t.Run("one after the other", func(t *testing.T) {
		r := newRig(t)
		c := r.consumer(record)
		c.Prefetch = 1 // in order: the duplicate is handled after the original committed
		r.publish(t, "dup", "dup", "last")
		run := r.start(t, c, nil)
		waitFor(t, "the message after the duplicates was not applied", func() bool { return r.applied(t, "last") == 1 })
		_ = run.stop(t)
		if got := r.applied(t, "dup"); got != 1 {
			t.Errorf("a message published twice with the same id was applied %d times, want 1", got)
		}
		if got := r.ready(t, r.topo.Queue); got != 0 {
			t.Errorf("%d messages left in %s, want 0: a duplicate must be acked, not retried", got, r.topo.Queue)
		}
	})
	t.Run("concurrently", func(t *testing.T) {
		r := newRig(t)
		var entered atomic.Int32
		second := make(chan struct{})
		c := r.consumer(func(ctx context.Context, tx *sql.Tx, m Message) error {
			if entered.Add(1) == 2 {
				close(second)
			} else {
				// Hold the first one until the duplicate either runs its handler beside it (a check outside the
				// transaction lets it through at once) or waits for it in MySQL. information_schema does not always
				// show that wait (MariaDB 10.11 under load), so after holdMax the first one goes on regardless: the
				// duplicate is then still blocked on the row, or was never let through. Either way it must not apply
				// a second time. (Not waitFor: this is the consumer's goroutine, where t.Fatal must not be called.)
				const holdMax = 3 * time.Second // below the 5 s lock wait timeout of infra.MySQL connections
				deadline := time.Now().Add(holdMax)
				for !closed(second) && lockWaits(t, r.db) == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			return record(ctx, tx, m)
		})
		r.publish(t, "twin", "twin")
		run := r.start(t, c, nil)
		waitFor(t, "twin was not applied", func() bool { return r.applied(t, "twin") > 0 })
		// Run returns after both deliveries are finished, the blocked duplicate included.
		_ = run.stop(t)
		if got := r.applied(t, "twin"); got != 1 {
			t.Errorf("two concurrent deliveries of one message were applied %d times, want 1: the processed_messages row must be inserted in the effect's transaction, so that the second waits for the first and then fails on the key", got)
		}
		if got := r.ready(t, r.topo.Queue); got != 0 {
			t.Errorf("%d messages left in %s, want 0: a duplicate must be acked", got, r.topo.Queue)
		}
	})
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lockWaits counts the sessions of this test's database that wait for a row lock, or run an INSERT into
// processed_messages that has not returned while the first delivery holds its row (which is a wait too).
func lockWaits(t *testing.T, db *sql.DB) int {
	var n int
	err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.processlist p
		LEFT JOIN information_schema.innodb_trx t ON t.trx_mysql_thread_id = p.id
		WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID()
		AND (t.trx_state = 'LOCK WAIT' OR (p.command = 'Query' AND p.info LIKE 'INSERT%processed_messages%'))`).Scan(&n)
	if err != nil {
		t.Errorf("read lock waits: %v", err)
	}
	return n
}

// TestRabbitPublisherConfirms checks that Publish reports what the broker did with the message.
func TestRabbitPublisherConfirms(t *testing.T) {
	r := newRig(t)
	// A queue that holds one message and refuses more: the broker nacks what it cannot take.
	full, err := r.ch.QueueDeclare("full", true, false, false, false, amqp.Table{"x-max-length": 1, "x-overflow": "reject-publish"})
	if err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	if err := r.ch.QueueBind(full.Name, "full", r.topo.Exchange, false, nil); err != nil {
		t.Fatalf("bind: %v", err)
	}
	p, err := NewPublisher(r.dial(t))
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	if err := p.Publish(ctx, r.topo.Exchange, r.topo.RoutingKey, Message{ID: "m-1", Body: []byte(`{"order":1}`)}); err != nil {
		t.Fatalf("Publish(routable) = %v, want nil", err)
	}
	// Publish returned after the confirm: the message is in the queue now, not in a moment.
	got, ok, err := r.ch.Get(r.topo.Queue, true)
	if err != nil || !ok {
		t.Fatalf("Get from %s right after Publish returned = ok %v, %v; want the message: Publish must wait for the broker's confirm", r.topo.Queue, ok, err)
	}
	if got.MessageId != "m-1" || string(got.Body) != `{"order":1}` || got.DeliveryMode != amqp.Persistent {
		t.Errorf("published message = id %q body %q mode %d, want id m-1, the body, and persistent (%d): the id is the consumer's idempotency key, and a transient message is lost in a broker restart",
			got.MessageId, got.Body, got.DeliveryMode, amqp.Persistent)
	}

	err = p.Publish(ctx, r.topo.Exchange, "no.queue.for.this.key", Message{ID: "m-2", Body: []byte("x")})
	if !errors.Is(err, ErrUnroutable) {
		t.Errorf("Publish(unroutable key) = %v, want ErrUnroutable: publish as mandatory and report the broker's return, or the message is silently lost", err)
	}

	if err := p.Publish(ctx, r.topo.Exchange, "full", Message{ID: "m-3", Body: []byte("x")}); err != nil {
		t.Fatalf("Publish(into the empty bounded queue) = %v, want nil", err)
	}
	err = p.Publish(ctx, r.topo.Exchange, "full", Message{ID: "m-4", Body: []byte("x")})
	if !errors.Is(err, ErrNacked) {
		t.Errorf("Publish(into a full reject-publish queue) = %v, want ErrNacked: the broker refused it, and the caller must know", err)
	}

	// Safe for concurrent use: every message confirmed and delivered once.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs <- p.Publish(ctx, r.topo.Exchange, r.topo.RoutingKey, Message{ID: fmt.Sprintf("c-%d", i), Body: []byte("x")})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Publish = %v, want nil", err)
		}
	}
	if got := r.ready(t, r.topo.Queue); got != 20 {
		t.Errorf("%d messages in %s after 20 confirmed concurrent publishes, want 20", got, r.topo.Queue)
	}
}
