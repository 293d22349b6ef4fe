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
	// TODO(07-rabbit): declare the direct exchange, the fanout dead-letter exchange and its durable queue (bound
	// to it), then Queue as a durable quorum queue whose dead-letter exchange is DeadLetterExchange, bound to
	// Exchange with RoutingKey.
	return fmt.Errorf("TODO(07-rabbit): Topology.Declare does not declare %s, %s and their dead-letter exchange yet", t.Exchange, t.Queue)
}
