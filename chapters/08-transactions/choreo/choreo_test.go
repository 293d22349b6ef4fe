package choreo_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/08-transactions/choreo"
)

var kinds = []string{"ok", "out-of-stock", "declined", "undeliverable"}

// TestChoreoHappyPath: OrderPlaced → StockReserved → PaymentCharged → Shipped, and the order completes. The
// shipping service is down at first: the saga waits for it (its event stays in the topic) and goes on when it
// comes back, and the order is not completed before the parcel has left.
func TestChoreoHappyPath(t *testing.T) {
	w := newWorld(t)
	w.proc("shipping").stop()
	o := w.newOrder("o-ok", "ok")
	w.place(o)
	w.settle(o)
	waiting := want("ok")
	waiting.Order, waiting.Shipped = choreo.OrderPending, false
	if got := w.state(o); got != waiting {
		t.Errorf("with shipping down, order %s settled as\n    %s\nwant\n    %s\nthe stock is reserved and the money "+
			"charged, but nothing has shipped yet: the order stays pending until Shipped (completing it on "+
			"PaymentCharged tells the customer 'done' for a parcel that may never leave). Its events: %v",
			o.ID, got, waiting, w.events(o.ID))
	}
	w.start("shipping", 0)
	w.settle(o)
	w.check(o, "ok", "after shipping came back and the saga settled")
	got := w.events(o.ID)
	wantEvents := []string{choreo.OrderPlaced, choreo.StockReserved, choreo.PaymentCharged, choreo.Shipped}
	if !slices.Equal(got, wantEvents) {
		t.Errorf("events of %s = %v, want %v: each service emits the next event once, from its outbox, and reacts only to the event of the step before its own", o.ID, got, wantEvents)
	}
	// All events of one order share the order's partition, in causal order: that is why no service sees a
	// compensation before the step it undoes (the lesson argues it).
	parts := map[int32]bool{}
	for _, r := range w.records() {
		if string(r.Key) == o.ID {
			parts[r.Partition] = true
		}
	}
	if len(parts) != 1 {
		t.Errorf("events of %s went to partitions %v, want one: they are keyed by the order id", o.ID, parts)
	}
}

// TestChoreoBusinessFailureCompensates: a business failure at each step ends with everything done before it
// undone, as the orchestrated saga of 08-saga ends.
func TestChoreoBusinessFailureCompensates(t *testing.T) {
	w := newWorld(t)
	var orders []choreo.Order
	for _, kind := range kinds[1:] {
		o := w.newOrder("o-"+kind, kind)
		w.place(o)
		orders = append(orders, o)
	}
	w.settle(orders...)
	for i, kind := range kinds[1:] {
		w.check(orders[i], kind, "after the saga settled")
	}
}

// TestChoreoDuplicateDeliveryChangesNothing delivers every event again, all of them, in order and then in
// reverse: Kafka and the outbox relay deliver at least once, and a consumer that applies a duplicate charges
// or refunds twice.
func TestChoreoDuplicateDeliveryChangesNothing(t *testing.T) {
	w := newWorld(t)
	var orders []choreo.Order
	for _, kind := range kinds {
		o := w.newOrder("o-"+kind, kind)
		w.place(o)
		orders = append(orders, o)
	}
	w.settle(orders...)
	for i, kind := range kinds {
		w.check(orders[i], kind, "before the redelivery")
	}
	if t.Failed() {
		return
	}
	recs := w.records()
	var again []*kgo.Record
	for _, r := range recs {
		again = append(again, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers})
	}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		again = append(again, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...))
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, again...).FirstErr(); err != nil {
		t.Fatalf("redeliver %d records: %v", len(again), err)
	}
	w.settle(orders...)
	for i, kind := range kinds {
		w.check(orders[i], kind, fmt.Sprintf("after each of the %d events was delivered twice more", len(recs)))
	}
	if n := len(w.records()); n != 3*len(recs) {
		t.Errorf("the topic holds %d records after the redelivery, want %d (the %d events, twice more): a duplicate "+
			"must be recognised by its message id and emit nothing", n, 3*len(recs), len(recs))
	}
}

// TestChoreoCrashRestartConverges kills one service right after its handler's k-th committed transaction,
// for every service and every k its part of the saga reaches, in three scenarios. The dead process commits no
// offset and its relay publishes nothing more; a new process of the service takes over (the same consumer
// group) and the saga must still end where it would have without the crash.
func TestChoreoCrashRestartConverges(t *testing.T) {
	w := newWorld(t)
	points := 0
	for _, kind := range []string{"ok", "declined", "undeliverable"} {
		for _, name := range services {
			for k := int64(1); ; k++ {
				if k > 10 {
					t.Fatalf("%s kept crashing after commit %d of a single order's saga: a service handles at most "+
						"two events of an order, each in one transaction", name, k-1)
				}
				o := w.newOrder(fmt.Sprintf("o-%s-%s-%d", kind, name, k), kind)
				p := w.proc(name)
				p.crashAt.Store(p.commits.Load() + k)
				w.place(o)
				w.settle(o)
				crashed := p.dead.Load()
				p.crashAt.Store(0)
				if crashed {
					points++
					w.restart(name)
					w.settle(o)
				}
				w.check(o, kind, fmt.Sprintf("%s crashed right after its handler's commit %d and restarted (the new "+
					"process got the interrupted event again; the dead one published nothing more). The dedupe row, "+
					"the effect and the next event must commit in ONE transaction: written apart, a crash between "+
					"them leaves an effect whose event is lost, or a message marked handled whose effect never "+
					"happened", name, k))
				if t.Failed() {
					t.FailNow()
				}
				if !crashed {
					break // the saga needed fewer commits of this service: every point of it was tried
				}
			}
		}
	}
	t.Logf("%d crash points, each converged", points)
}

// TestChoreoLateUndoChangesNothing: the same undo can come again under a message id of its own (an operator
// re-drives a stuck saga, a service restored from a backup publishes its outbox again under new ids, a
// failure event travels on another topic): the dedupe row does not stop it, the state guards must. A
// compensation of something no longer held changes nothing, a saga ends once, and the money given back is
// the money taken, read from the payment service's own row, not from the event that asks for it.
func TestChoreoLateUndoChangesNothing(t *testing.T) {
	w := newWorld(t)
	var orders []choreo.Order
	for _, kind := range kinds {
		o := w.newOrder("o-"+kind, kind)
		w.place(o)
		orders = append(orders, o)
	}
	w.settle(orders...)
	for i, kind := range kinds {
		w.check(orders[i], kind, "before the late events")
	}
	if t.Failed() {
		return
	}
	// One more undeliverable order, paid and waiting for shipping, which is down.
	w.proc("shipping").stop()
	fee := w.newOrder("o-undeliverable-fee", "undeliverable")
	w.place(fee)
	w.settle(fee)

	var late []choreo.Event
	late = append(late, choreo.Event{Type: choreo.StockRejected, Order: orders[0]})
	for _, o := range orders[1:] {
		late = append(late, choreo.Event{Type: choreo.PaymentDeclined, Order: o}, choreo.Event{Type: choreo.ShipmentFailed, Order: o})
	}
	other := fee
	other.Amount = 5 * price // what another version of the shipping service says the order cost
	late = append(late, choreo.Event{Type: choreo.ShipmentFailed, Order: other})
	w.inject(late...)
	all := append(slices.Clone(orders), fee)
	w.settle(all...)
	w.start("shipping", 0)
	w.settle(all...)

	w.check(orders[0], "ok", "after a late StockRejected under a new message id: only a pending order moves (a "+
		"saga ends once), so a completed order stays completed")
	for i, kind := range kinds[1:] {
		w.check(orders[i+1], kind, "after a PaymentDeclined and a ShipmentFailed came again under new message ids: "+
			"nothing is held any more, so undoing it changes nothing. Release only a reservation still 'reserved' "+
			"and give its stock back only then; refund only a payment still 'charged' (an undo of nothing is a no-op)")
	}
	w.check(fee, "undeliverable", fmt.Sprintf("after a ShipmentFailed whose order says amount %d came while %d "+
		"was charged: the refund gives back what the payments row says was charged, to the user it was charged "+
		"from, never an amount read from an event", other.Amount, fee.Amount))
}

// TestChoreoDatabaseErrorIsRetried fails one statement of one service's handler, for every service and every
// statement its part of the saga runs, in three scenarios. The process lives on (a lost connection, a
// deadlock victim): the handler must return the error, so that its transaction rolls back whole and the event
// is delivered again, and the saga must end where it would have without the failure.
func TestChoreoDatabaseErrorIsRetried(t *testing.T) {
	w := newWorld(t)
	points := 0
	for _, kind := range []string{"ok", "declined", "undeliverable"} {
		for _, name := range services {
			for k := int64(1); ; k++ {
				if k > 30 {
					t.Fatalf("%s kept running statements past statement %d of a single order's saga: a service "+
						"handles at most two events of an order, each in a few statements", name, k-1)
				}
				o := w.newOrder(fmt.Sprintf("o-%s-%s-s%d", kind, name, k), kind)
				p := w.proc(name)
				p.injected.Store(false)
				p.failAt.Store(p.statements.Load() + k)
				w.place(o)
				w.settle(o)
				failed := p.injected.Load()
				p.failAt.Store(0)
				w.check(o, kind, fmt.Sprintf("%s's handler got a database error on its statement %d of this saga, "+
					"and the process lived on. The handler must return the error: the whole transaction (dedupe "+
					"row, effect, event) rolls back and the event comes again. Logged and swallowed (nil returned), "+
					"the dedupe row commits without its effect and the saga stalls or ends wrong", name, k))
				if t.Failed() {
					t.FailNow()
				}
				if !failed {
					break // the saga ran fewer statements of this service: every one of them was tried
				}
				points++
			}
		}
	}
	t.Logf("%d failed statements, each retried and converged", points)
}
