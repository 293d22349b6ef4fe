package infra

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var rabbitmqCases = []conformanceCase{
	{"ack_removes", rabbitAckRemoves},
	{"nack_requeue_redelivers", rabbitNackRequeue},
	{"nack_to_dead_letter_exchange", rabbitDeadLetter},
	{"prefetch_bounds_unacked", rabbitPrefetch},
	{"publisher_confirms", rabbitConfirms},
	{"vhost_isolation", rabbitVhostIsolation},
}

// rabbitConn opens a connection to a fresh namespace of inst, closed at cleanup.
func rabbitConn(t *testing.T, inst *Instance) (*amqp.Connection, RabbitMQEndpoint) {
	t.Helper()
	ep := rabbitmqNamespace(t, inst)
	conn, err := amqp.Dial(ep.URL)
	if err != nil {
		t.Fatalf("amqp.Dial(%s): %v", ep.URL, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn, ep
}

func rabbitChannel(t *testing.T, conn *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// rabbitQueue declares a durable classic queue with args and returns its name.
func rabbitQueue(t *testing.T, ch *amqp.Channel, name string, args amqp.Table) string {
	t.Helper()
	q, err := ch.QueueDeclare(name, true, false, false, false, args)
	if err != nil {
		t.Fatalf("declare queue %s: %v", name, err)
	}
	return q.Name
}

func rabbitPublish(t *testing.T, ch *amqp.Channel, exchange, key string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		err := ch.PublishWithContext(t.Context(), exchange, key, false, false,
			amqp.Publishing{Body: []byte(b), DeliveryMode: amqp.Persistent, MessageId: b})
		if err != nil {
			t.Fatalf("publish %q to %q/%q: %v", b, exchange, key, err)
		}
	}
}

// consume starts a manual-ack consumer on queue.
func rabbitConsume(t *testing.T, ch *amqp.Channel, queue string) <-chan amqp.Delivery {
	t.Helper()
	d, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatalf("consume %s: %v", queue, err)
	}
	return d
}

func nextDelivery(t *testing.T, d <-chan amqp.Delivery, what string) amqp.Delivery {
	t.Helper()
	select {
	case m, ok := <-d:
		if !ok {
			t.Fatalf("%s: the delivery channel closed", what)
		}
		return m
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: no delivery within 15 s", what)
	}
	return amqp.Delivery{}
}

// readyCount returns the number of messages ready in queue (the declare-ok count excludes unacked ones).
func readyCount(t *testing.T, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare %s: %v", queue, err)
	}
	return q.Messages
}

func rabbitAckRemoves(t *testing.T, inst *Instance) {
	conn, _ := rabbitConn(t, inst)
	ch := rabbitChannel(t, conn)
	q := rabbitQueue(t, ch, "orders", nil)
	rabbitPublish(t, ch, "", q, "m1", "m2")
	consumer := rabbitChannel(t, conn)
	d := rabbitConsume(t, consumer, q)
	m := nextDelivery(t, d, "first delivery")
	if err := m.Ack(false); err != nil {
		t.Fatalf("ack: %v", err)
	}
	_ = nextDelivery(t, d, "second delivery") // left unacked: closing the channel returns it to the queue
	if err := consumer.Close(); err != nil {
		t.Fatalf("close consumer channel: %v", err)
	}
	eventually(t, 10*time.Second, "the unacked message is back, the acked one gone", func() error {
		if n := readyCount(t, ch, q); n != 1 {
			return fmt.Errorf("ready messages = %d, want 1", n)
		}
		return nil
	})
	got, ok, err := ch.Get(q, true)
	if err != nil || !ok || string(got.Body) != "m2" || !got.Redelivered {
		t.Errorf("Get after close = %q ok=%v redelivered=%v err=%v, want m2 redelivered", got.Body, ok, got.Redelivered, err)
	}
}

func rabbitNackRequeue(t *testing.T, inst *Instance) {
	conn, _ := rabbitConn(t, inst)
	ch := rabbitChannel(t, conn)
	q := rabbitQueue(t, ch, "orders", nil)
	rabbitPublish(t, ch, "", q, "m1")
	d := rabbitConsume(t, ch, q)
	first := nextDelivery(t, d, "first delivery")
	if first.Redelivered {
		t.Fatalf("first delivery has Redelivered set")
	}
	if err := first.Nack(false, true); err != nil {
		t.Fatalf("nack with requeue: %v", err)
	}
	again := nextDelivery(t, d, "delivery after nack(requeue)")
	if string(again.Body) != "m1" || !again.Redelivered {
		t.Errorf("after nack(requeue) got %q redelivered=%v, want m1 with Redelivered", again.Body, again.Redelivered)
	}
	_ = again.Ack(false)
}

func rabbitDeadLetter(t *testing.T, inst *Instance) {
	conn, _ := rabbitConn(t, inst)
	ch := rabbitChannel(t, conn)
	if err := ch.ExchangeDeclare("orders.dlx", "fanout", true, false, false, false, nil); err != nil {
		t.Fatalf("declare dead-letter exchange: %v", err)
	}
	dead := rabbitQueue(t, ch, "orders.dead", nil)
	if err := ch.QueueBind(dead, "", "orders.dlx", false, nil); err != nil {
		t.Fatalf("bind dead-letter queue: %v", err)
	}
	q := rabbitQueue(t, ch, "orders", amqp.Table{"x-dead-letter-exchange": "orders.dlx"})
	rabbitPublish(t, ch, "", q, "poison")
	d := rabbitConsume(t, ch, q)
	if err := nextDelivery(t, d, "delivery").Nack(false, false); err != nil {
		t.Fatalf("nack without requeue: %v", err)
	}
	var got amqp.Delivery
	eventually(t, 10*time.Second, "the rejected message reaches the dead-letter queue", func() error {
		m, ok, err := ch.Get(dead, true)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("dead-letter queue is empty")
		}
		got = m
		return nil
	})
	deaths, _ := got.Headers["x-death"].([]any)
	if string(got.Body) != "poison" || len(deaths) != 1 {
		t.Fatalf("dead-lettered %q with x-death %v, want poison with one x-death entry", got.Body, got.Headers["x-death"])
	}
	death, _ := deaths[0].(amqp.Table)
	if death["reason"] != "rejected" || death["queue"] != q {
		t.Errorf("x-death = %v, want reason rejected from queue %s", death, q)
	}
	if n := readyCount(t, ch, q); n != 0 {
		t.Errorf("ready in %s after the nack = %d, want 0 (not requeued)", q, n)
	}
}

func rabbitPrefetch(t *testing.T, inst *Instance) {
	conn, _ := rabbitConn(t, inst)
	ch := rabbitChannel(t, conn)
	q := rabbitQueue(t, ch, "orders", nil)
	rabbitPublish(t, ch, "", q, "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9")
	consumer := rabbitChannel(t, conn)
	if err := consumer.Qos(3, 0, false); err != nil {
		t.Fatalf("qos: %v", err)
	}
	d := rabbitConsume(t, consumer, q)
	var held []amqp.Delivery
	for range 3 {
		held = append(held, nextDelivery(t, d, "delivery within the prefetch"))
	}
	// The broker sends no fourth message while three are unacked: the queue keeps seven ready.
	if n := readyCount(t, ch, q); n != 7 {
		t.Fatalf("ready with prefetch 3 and three unacked = %d, want 7", n)
	}
	select {
	case m := <-d:
		t.Fatalf("a fourth delivery %q arrived with prefetch 3 and three unacked", m.Body)
	case <-time.After(300 * time.Millisecond):
	}
	if err := held[0].Ack(false); err != nil {
		t.Fatalf("ack: %v", err)
	}
	m := nextDelivery(t, d, "delivery after one ack")
	if string(m.Body) != "m3" {
		t.Errorf("after one ack got %q, want m3", m.Body)
	}
}

func rabbitConfirms(t *testing.T, inst *Instance) {
	conn, _ := rabbitConn(t, inst)
	ch := rabbitChannel(t, conn)
	q := rabbitQueue(t, ch, "orders", nil)
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, true, false,
		amqp.Publishing{Body: []byte("paid"), DeliveryMode: amqp.Persistent})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ok, err := dc.WaitContext(ctx); err != nil || !ok {
		t.Fatalf("confirm of a routable persistent message = %v, %v; want ack", ok, err)
	}
	got, ok, err := ch.Get(q, true)
	if err != nil || !ok || string(got.Body) != "paid" || got.DeliveryMode != amqp.Persistent {
		t.Errorf("Get = %q ok=%v mode=%d err=%v, want the persistent message", got.Body, ok, got.DeliveryMode, err)
	}
	// Unroutable and mandatory: the broker returns it, then confirms (ack: it was handled, by returning it).
	dc, err = ch.PublishWithDeferredConfirmWithContext(ctx, "", "no-such-queue", true, false, amqp.Publishing{Body: []byte("lost")})
	if err != nil {
		t.Fatalf("publish unroutable: %v", err)
	}
	select {
	case r := <-returns:
		if string(r.Body) != "lost" || r.ReplyCode != amqp.NoRoute {
			t.Errorf("return = %q code %d, want lost with NO_ROUTE (312)", r.Body, r.ReplyCode)
		}
	case <-ctx.Done():
		t.Fatalf("no basic.return for a mandatory unroutable message")
	}
	if _, err := dc.WaitContext(ctx); err != nil {
		t.Fatalf("confirm of the returned message: %v", err)
	}
}

func rabbitVhostIsolation(t *testing.T, inst *Instance) {
	connA, epA := rabbitConn(t, inst)
	connB, epB := rabbitConn(t, inst)
	if epA.Vhost == epB.Vhost {
		t.Fatalf("two endpoints share vhost %s", epA.Vhost)
	}
	chA := rabbitChannel(t, connA)
	q := rabbitQueue(t, chA, "orders", nil)
	rabbitPublish(t, chA, "", q, "only-in-a")
	chB, err := connB.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	defer chB.Close()
	_, err = chB.QueueDeclarePassive(q, true, false, false, false, nil)
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.NotFound {
		t.Fatalf("passive declare of A's queue from B = %v, want NOT_FOUND (404): vhosts must not share queues", err)
	}
}
