// Package outbox publishes events reliably with a transactional outbox (本地消息表): the order and its event are
// written in one database transaction, and a relay publishes unpublished rows to Kafka and marks them. A rollback
// publishes nothing; a broker or relay that is down delays the event but never loses it; a relay that dies after
// publishing and before marking publishes the row again, and the idempotent consumer absorbs the duplicate.
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Schema creates the outbox and the orders table, one statement each.
var Schema = []string{`CREATE TABLE IF NOT EXISTS outbox (
	id           BIGINT AUTO_INCREMENT PRIMARY KEY,
	topic        VARCHAR(255) NOT NULL,
	msg_key      VARCHAR(255) NOT NULL,
	payload      BLOB NOT NULL,
	created_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	published_at TIMESTAMP(6) NULL,
	KEY unpublished (published_at, id)
)`, `CREATE TABLE IF NOT EXISTS orders (
	id      VARCHAR(64) PRIMARY KEY,
	user_id BIGINT NOT NULL,
	total   BIGINT NOT NULL
)`}

// MessageIDHeader is the record header that carries the outbox row's id, "outbox-<id>": the consumer's dedupe key.
// A row published twice carries the same id both times.
const MessageIDHeader = "message-id"

// Order is what PlaceOrder stores, and the payload of its order.created event (JSON).
type Order struct {
	ID     string `json:"id"`
	UserID int64  `json:"user_id"`
	Total  int64  `json:"total"`
}

// Enqueue adds a message to the outbox inside tx: it is published only if tx commits.
func Enqueue(ctx context.Context, tx *sql.Tx, topic, key string, payload []byte) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO outbox (topic, msg_key, payload) VALUES (?, ?, ?)", topic, key, payload)
	if err != nil {
		return fmt.Errorf("enqueue %s/%s: %w", topic, key, err)
	}
	return nil
}

// PlaceOrder stores o and its order.created event (key o.ID, payload o as JSON, on topic) atomically: both or
// neither. Any failure is returned, wrapped.
func PlaceOrder(ctx context.Context, db *sql.DB, topic string, o Order) error {
	// TODO(07-outbox): in one transaction, insert the order and Enqueue its event; commit.
	return errors.New("TODO(07-outbox): PlaceOrder is not implemented")
}

// Producer publishes records and waits for the broker's answer. *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Relay moves outbox rows to Kafka. Several relays may run at once (two instances of a service): each row is
// published by one of them.
type Relay struct {
	DB       *sql.DB
	Producer Producer
	Batch    int // rows per RunOnce
}

// RunOnce publishes up to Batch unpublished rows, oldest first, each with its MessageIDHeader, and marks them
// published. It returns how many it published. On any error it returns it, wrapped, and the rows stay
// unpublished for a later run. Rows that another relay is publishing right now are left to it.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	// TODO(07-outbox): lock a batch of unpublished rows that no other relay holds (FOR UPDATE SKIP LOCKED), publish them, mark them, commit.
	return 0, errors.New("TODO(07-outbox): Relay.RunOnce is not implemented")
}

// Run calls RunOnce until ctx is done: again at once after a full batch, after every otherwise. It returns nil
// when ctx is done; errors of RunOnce are retried (the outbox keeps the rows).
func (r *Relay) Run(ctx context.Context, every time.Duration, onErr func(error)) error {
	for {
		n, err := r.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		if err == nil && n == r.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}
