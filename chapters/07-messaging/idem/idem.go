// Package idem makes a message consumer idempotent (幂等消费): Kafka and RabbitMQ deliver at least once, so the
// same message can arrive twice (a redelivery after a crash, a producer retry, an outbox relay that published
// and died before marking). The consumer records (consumer, message id) in the same database transaction as the
// message's effect; a second delivery finds the record and changes nothing.
package idem

import (
	"context"
	"database/sql"
	"errors"
)

// Schema creates the table of processed messages. The primary key is what makes a duplicate fail: two
// deliveries of one message to one consumer cannot both insert their row.
const Schema = `CREATE TABLE IF NOT EXISTS processed_messages (
	consumer   VARCHAR(64)  NOT NULL,
	message_id VARCHAR(128) NOT NULL,
	processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	PRIMARY KEY (consumer, message_id)
)`

// Effect is the work a message causes, done inside the transaction that records the message.
type Effect func(ctx context.Context, tx *sql.Tx) error

// Consumer applies each message at most once per consumer name.
type Consumer struct {
	DB   *sql.DB
	Name string // two consumers (billing, points) of one message each apply it once
}

// Handle applies effect for messageID unless this consumer already has: (true, nil) when it applied it now,
// (false, nil) for a duplicate. Any other failure (of the database or of effect) is returned, wrapped, and
// leaves no trace: the message can be processed when it is delivered again. Concurrent calls with one
// messageID apply it once.
func (c *Consumer) Handle(ctx context.Context, messageID string, effect Effect) (applied bool, err error) {
	// TODO(07-idempotent): in one transaction, record (c.Name, messageID) and run effect; a duplicate key on the record means "already applied".
	return false, errors.New("TODO(07-idempotent): Consumer.Handle is not implemented")
}
