package rabbit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Consumer applies messages from Queue exactly once in effect, although RabbitMQ delivers them at least once.
//
// For each delivery it begins a transaction, inserts (Name, message id) into processed_messages, calls Handle
// with the same transaction, commits, and only then acks. A duplicate delivery hits the primary key and is acked
// without a second effect. A crash anywhere before the ack leaves the message unacked, so the broker delivers it
// again: before the commit nothing was applied, after it the marker makes the redelivery a no-op.
type Consumer struct {
	Name   string  // recorded in processed_messages.consumer (at most 64 bytes)
	DB     *sql.DB // where the effects and processed_messages live
	Queue  string
	Handle Handler
	// Prefetch bounds how many deliveries are unacked at once (AMQP basic.qos): the broker sends no more until one
	// is acked or nacked. Run handles that many deliveries concurrently, so it also bounds the work in flight.
	Prefetch int
	// MaxAttempts is how many times a message is tried. After the last failed attempt it is rejected without
	// requeue, and the queue's dead-letter exchange receives it; before that, it is requeued for another attempt.
	MaxAttempts int
}

// Run consumes Queue on a channel of its own on conn with manual acks, handling up to Prefetch deliveries
// concurrently. It returns nil when ctx is cancelled, and an error when the channel or the connection closes
// (a broker restart, a network failure): the caller reconnects and calls Run again. Either way it returns only
// after the deliveries it started are finished: cancelling ctx stops taking new ones, but a delivery in progress
// is still committed and acked (a graceful stop), not rolled back and redelivered.
func (c *Consumer) Run(ctx context.Context, conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	// Before Consume: basic.qos applies to the consumers started after it on this channel.
	if err := ch.Qos(c.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch %d: %w", c.Prefetch, err)
	}
	// autoAck false: the broker keeps each message until we ack it, and redelivers it if we die first.
	deliveries, err := ch.Consume(c.Queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.Queue, err)
	}
	// The deliveries' work outlives ctx: a stop must not roll back a transaction half-way and requeue its message.
	work := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // runs before ch.Close: finish (and ack) what was started
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("consume %s: channel closed: %w", c.Queue, amqp.ErrClosed)
			}
			// At most Prefetch deliveries are unacked, so at most Prefetch goroutines run.
			wg.Go(func() { c.handle(work, d) })
		}
	}
}

// handle applies one delivery and then acks it, or nacks it with or without requeue.
func (c *Consumer) handle(ctx context.Context, d amqp.Delivery) {
	err := c.apply(ctx, Message{ID: d.MessageId, Body: d.Body})
	switch {
	case err == nil:
		// Only now: the effect and its marker are committed. If this ack is lost, the redelivery is a no-op.
		_ = d.Ack(false)
	case attempt(d) >= c.MaxAttempts || d.MessageId == "":
		// Poison: stop retrying. The queue's dead-letter exchange gets it, with an x-death header saying why.
		_ = d.Nack(false, false)
	default:
		_ = d.Nack(false, true) // back to the queue for another attempt; the broker counts it
	}
}

// apply runs the effect and the marker in one transaction. A duplicate is not an error: it was applied before.
func (c *Consumer) apply(ctx context.Context, m Message) error {
	if m.ID == "" {
		return errors.New("message without an id cannot be deduplicated")
	}
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	// The marker first: a concurrent duplicate waits here on the row lock until this transaction ends, then
	// fails with a duplicate key, so the two can never both run the effect.
	_, err = tx.ExecContext(ctx, "INSERT INTO processed_messages (consumer, message_id) VALUES (?, ?)", c.Name, m.ID)
	if isDuplicateKey(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark %s processed: %w", m.ID, err)
	}
	if err := c.Handle(ctx, tx, m); err != nil {
		return fmt.Errorf("handle %s: %w", m.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s: %w", m.ID, err)
	}
	return nil
}

// attempt returns which attempt this delivery is, counting from 1. Quorum queues put the number of earlier
// failed deliveries (nacked with requeue, or unacked when a channel closed) in x-delivery-count, an AMQP long
// (int64 here); the header is absent on the first delivery.
func attempt(d amqp.Delivery) int {
	n, _ := d.Headers["x-delivery-count"].(int64)
	return int(n) + 1
}

func isDuplicateKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
