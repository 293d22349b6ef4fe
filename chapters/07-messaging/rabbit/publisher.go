package rabbit

import (
	"context"
	"errors"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Publisher sends messages on a channel in confirm mode. Publish returns nil only once the broker confirmed
// the message: it is then in every queue it was routed to, and on disk for a durable queue. Without confirms a
// publish is fire-and-forget: a broker that fails, or a message that no queue receives, loses it silently.
type Publisher struct {
	ch *amqp.Channel
	// TODO(07-rabbit): what Publish needs to match the broker's answer (a confirm, and maybe a return) to its message.
}

// NewPublisher opens a channel on conn for publishing.
func NewPublisher(conn *amqp.Connection) (*Publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	// TODO(07-rabbit): put the channel in confirm mode and listen for returned (unroutable) messages.
	return &Publisher{ch: ch}, nil
}

// Publish sends m to exchange with routing key, as a persistent message whose message-id is m.ID, and waits
// for the broker's confirm (or ctx). It returns an error wrapping ErrUnroutable when the broker returned the
// message because no queue is bound for key (it is published as mandatory), and ErrNacked when the broker
// nacked it. It is safe for concurrent use.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, m Message) error {
	// TODO(07-rabbit): publish mandatory and persistent with MessageId, wait for the confirm, and report a return
	// or a nack as ErrUnroutable or ErrNacked.
	return errors.New("TODO(07-rabbit): Publisher.Publish is not implemented")
}

// Close closes the publisher's channel.
func (p *Publisher) Close() error { return p.ch.Close() }
