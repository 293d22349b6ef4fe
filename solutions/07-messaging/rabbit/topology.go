package rabbit

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Topology names what publishers and consumers share: publishers send to Exchange with RoutingKey, the
// consumer reads Queue, and a message rejected without requeue goes to DeadLetterExchange, which routes it
// to DeadLetterQueue for a human (or a repair job) to look at.
type Topology struct {
	Exchange           string // a durable direct exchange
	RoutingKey         string // binds Queue to Exchange
	Queue              string // a durable quorum queue
	DeadLetterExchange string // a durable fanout exchange
	DeadLetterQueue    string // a durable queue bound to DeadLetterExchange
}

// Declare creates the topology (idempotently: declaring what exists with the same arguments is a no-op).
//
// Queue must be a quorum queue, because only quorum queues count deliveries: RabbitMQ 3.10 puts the number of
// earlier failed deliveries in the x-delivery-count header, which the consumer needs to stop retrying after
// MaxAttempts. Its x-dead-letter-exchange argument sends what the consumer rejects without requeue to
// DeadLetterExchange; without it the broker drops such a message.
func (t Topology) Declare(ch *amqp.Channel) error {
	// Durable everything: a broker restart must not lose the topology, or messages published meanwhile.
	if err := ch.ExchangeDeclare(t.Exchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.Exchange, err)
	}
	// The dead-letter side first, so that nothing rejected can be dropped for want of a route.
	if err := ch.ExchangeDeclare(t.DeadLetterExchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare dead-letter exchange %s: %w", t.DeadLetterExchange, err)
	}
	if _, err := ch.QueueDeclare(t.DeadLetterQueue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare dead-letter queue %s: %w", t.DeadLetterQueue, err)
	}
	if err := ch.QueueBind(t.DeadLetterQueue, "", t.DeadLetterExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", t.DeadLetterQueue, t.DeadLetterExchange, err)
	}
	args := amqp.Table{
		amqp.QueueTypeArg:        amqp.QueueTypeQuorum, // replicated, and it counts deliveries (x-delivery-count)
		"x-dead-letter-exchange": t.DeadLetterExchange,
	}
	if _, err := ch.QueueDeclare(t.Queue, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", t.Queue, err)
	}
	if err := ch.QueueBind(t.Queue, t.RoutingKey, t.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s with %q: %w", t.Queue, t.Exchange, t.RoutingKey, err)
	}
	return nil
}
