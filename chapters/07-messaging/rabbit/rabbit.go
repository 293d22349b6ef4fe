// Package rabbit is the idempotent consumer of chapter 07 on RabbitMQ (AMQP 0-9-1, github.com/rabbitmq/amqp091-go):
// a publisher that waits for the broker's confirm, a topology with a dead-letter exchange, and a consumer that
// acks a message only after its effect and its (consumer, message id) marker committed in one MySQL transaction.
package rabbit

import (
	"context"
	"database/sql"
	"errors"
)

// Schema is the idempotency table, the same as the Kafka consumer's: one row per message a consumer applied.
// The row is inserted in the transaction of the effect, so the effect and "this message was applied" commit or
// roll back together, and the primary key turns a second delivery of the same message into a duplicate-key error.
const Schema = `CREATE TABLE IF NOT EXISTS processed_messages (
	consumer   VARCHAR(64)  NOT NULL,
	message_id VARCHAR(128) NOT NULL,
	PRIMARY KEY (consumer, message_id)
)`

// Message is what publishers send and handlers receive. ID travels as the AMQP message-id property and is the
// idempotency key: a redelivery, or a publisher's retry, carries the same ID.
type Message struct {
	ID   string
	Body []byte
}

// Handler applies a message's effect inside tx. It must not commit or roll back tx, and must not ack: the
// consumer does both, in that order. An error means "not applied"; the consumer retries or dead-letters.
type Handler func(ctx context.Context, tx *sql.Tx, m Message) error

// Errors of Publish. Test them with errors.Is.
var (
	// ErrUnroutable: the broker returned a mandatory message that no queue was bound to receive.
	ErrUnroutable = errors.New("rabbit: message is unroutable")
	// ErrNacked: the broker refused the message (a full queue with overflow reject-publish, an internal error).
	ErrNacked = errors.New("rabbit: broker nacked the message")
)
