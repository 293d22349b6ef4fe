package rabbit

import (
	"context"
	"database/sql"
	"errors"

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
	// TODO(07-rabbit): open a channel, set the prefetch (QoS) before consuming, consume with manual acks, and
	// handle each delivery in its own goroutine (with a context that a stop does not cancel): effect and marker in
	// one transaction, commit, then ack; on a handler error nack, with requeue until the MaxAttempts-th attempt
	// (x-delivery-count counts earlier ones).
	return errors.New("TODO(07-rabbit): Consumer.Run is not implemented")
}
