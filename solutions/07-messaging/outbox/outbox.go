// Package outbox publishes events reliably with a transactional outbox (本地消息表): the order and its event are
// written in one database transaction, and a relay publishes unpublished rows to Kafka and marks them. A rollback
// publishes nothing; a broker or relay that is down delays the event but never loses it; a relay that dies after
// publishing and before marking publishes the row again, and the idempotent consumer absorbs the duplicate.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
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
	payload, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id, user_id, total) VALUES (?, ?, ?)", o.ID, o.UserID, o.Total); err != nil {
		return fmt.Errorf("insert order %s: %w", o.ID, err)
	}
	// The event is a row in the same transaction: no dual write, no "the order exists but Kafka never heard of it".
	if err := Enqueue(ctx, tx, topic, o.ID, payload); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit order %s: %w", o.ID, err)
	}
	return nil
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
	// READ COMMITTED: the locks are on the rows we read, with no gap locks that would block PlaceOrder's inserts
	// while we wait for the broker.
	tx, err := r.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() // a crash or an error before Commit leaves every row unpublished

	// FOR UPDATE makes the batch ours until we commit; SKIP LOCKED lets another relay take the next batch
	// instead of waiting for ours (or, without FOR UPDATE, publishing ours again).
	rows, err := tx.QueryContext(ctx, `SELECT id, topic, msg_key, payload FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, r.Batch)
	if err != nil {
		return 0, fmt.Errorf("select unpublished: %w", err)
	}
	var ids []any
	var recs []*kgo.Record
	for rows.Next() {
		var id int64
		rec := &kgo.Record{}
		var key string
		if err := rows.Scan(&id, &rec.Topic, &key, &rec.Value); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox row: %w", err)
		}
		rec.Key = []byte(key)
		rec.Headers = []kgo.RecordHeader{{Key: MessageIDHeader, Value: []byte(fmt.Sprintf("outbox-%d", id))}}
		ids = append(ids, id)
		recs = append(recs, rec)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	// Publish first, mark after: a failure in between publishes again (a duplicate the consumer absorbs), never
	// marks a row that was not published (a loss nobody sees).
	if err := r.Producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("publish %d outbox rows: %w", len(recs), err)
	}
	marks := "UPDATE outbox SET published_at = CURRENT_TIMESTAMP(6) WHERE id IN (?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := tx.ExecContext(ctx, marks, ids...); err != nil {
		return 0, fmt.Errorf("mark %d rows published: %w", len(ids), err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit marks: %w", err)
	}
	return len(recs), nil
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
