package rabbit

import (
	"context"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Publisher sends messages on a channel in confirm mode. Publish returns nil only once the broker confirmed
// the message: it is then in every queue it was routed to, and on disk for a durable queue. Without confirms a
// publish is fire-and-forget: a broker that fails, or a message that no queue receives, loses it silently.
type Publisher struct {
	ch *amqp.Channel
	// mu keeps one message in flight per publisher, so that a basic.return (which the broker sends before the
	// confirm of the same message) belongs to the message being published. For more throughput, use several
	// publishers, or keep many in flight and match returns by MessageId.
	mu      sync.Mutex
	returns chan amqp.Return
}

// NewPublisher opens a channel on conn for publishing.
func NewPublisher(conn *amqp.Connection) (*Publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	// Buffered: the client library delivers a return before it processes the confirm that follows it.
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	return &Publisher{ch: ch, returns: returns}, nil
}

// Publish sends m to exchange with routing key, as a persistent message whose message-id is m.ID, and waits
// for the broker's confirm (or ctx). It returns an error wrapping ErrUnroutable when the broker returned the
// message because no queue is bound for key (it is published as mandatory), and ErrNacked when the broker
// nacked it. It is safe for concurrent use.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, m Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := amqp.Publishing{
		MessageId:    m.ID,
		Body:         m.Body,
		DeliveryMode: amqp.Persistent, // written to disk before the confirm: it survives a broker restart
	}
	// mandatory: a message that no queue receives comes back as a basic.return instead of vanishing.
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.ID, err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("confirm of %s: %w", m.ID, err)
	}
	// A returned message is also acked (the broker handled it, by returning it): check the return first.
	select {
	case r := <-p.returns:
		return fmt.Errorf("publish %s to %q with key %q: %s: %w", m.ID, exchange, key, r.ReplyText, ErrUnroutable)
	default:
	}
	if !acked {
		return fmt.Errorf("publish %s: %w", m.ID, ErrNacked)
	}
	return nil
}

// Close closes the publisher's channel.
func (p *Publisher) Close() error { return p.ch.Close() }
