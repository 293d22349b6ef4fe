// Package outbox is the plumbing of chapter 07, complete, for the capstone: a
// transactional outbox (本地消息表) with its relay, the table of processed messages that makes a consumer
// idempotent, and a consumer loop that commits an offset only after its record was handled.
//
// It is a snapshot of the reference solutions of 07-outbox, 07-idempotency and 07-consumer (by way of chapter 08's
// copy): a learner's chapter 07 may still hold TODOs, so the capstone cannot import it. Nothing here is
// an exercise; read it as the finished chapter 07.
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"

	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
)

// Schema creates the outbox and the processed-messages table of one service, one statement each.
var Schema = []string{`CREATE TABLE IF NOT EXISTS outbox (
	id           BIGINT AUTO_INCREMENT PRIMARY KEY,
	topic        VARCHAR(255) NOT NULL,
	msg_key      VARCHAR(255) NOT NULL,
	payload      BLOB NOT NULL,
	traceparent  VARCHAR(55) NOT NULL DEFAULT '',
	created_at   TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	published_at TIMESTAMP(6) NULL,
	KEY unpublished (published_at, id)
) ENGINE=InnoDB`, `CREATE TABLE IF NOT EXISTS processed_messages (
	consumer     VARCHAR(64)  NOT NULL,
	message_id   VARCHAR(128) NOT NULL,
	processed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	PRIMARY KEY (consumer, message_id)
) ENGINE=InnoDB`}

// MessageIDHeader is the record header that carries the message id: the consumer's dedupe key. It is
// "<service>-<outbox row id>", so a row published twice carries the same id both times.
const MessageIDHeader = "message-id"

// TraceHeader is the record header that carries the W3C trace context of the request that enqueued the
// message: a consumer that extracts it continues that request's trace, so one checkout is one trace across Kafka.
const TraceHeader = "traceparent"

// Migrate adds what a newer Schema has to an outbox table made by an older one (the traceparent column).
// Plain SQL has no "ADD COLUMN IF NOT EXISTS" on MySQL 8, so it asks information_schema first.
func Migrate(ctx context.Context, db *sql.DB) error {
	return mysqldb.AddColumn(ctx, db, "outbox", "traceparent", "VARCHAR(55) NOT NULL DEFAULT '' AFTER payload")
}

// Enqueue adds a message to the outbox inside tx: it is published only if tx commits. The trace context of
// ctx (W3C traceparent) is stored with it and published as the record's TraceHeader: the relay runs later, in
// no request, so the row is the only way the trace can cross.
func Enqueue(ctx context.Context, tx *sql.Tx, topic, key string, payload []byte) error {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier) // nothing when ctx has no span
	_, err := tx.ExecContext(ctx, "INSERT INTO outbox (topic, msg_key, payload, traceparent) VALUES (?, ?, ?, ?)",
		topic, key, payload, carrier.Get(TraceHeader))
	if err != nil {
		return fmt.Errorf("enqueue %s/%s: %w", topic, key, err)
	}
	return nil
}

// FirstDelivery records that consumer processed messageID, inside tx. It returns true the first time and
// false for a duplicate (the row exists: the primary key decides, no SELECT before the INSERT). The record
// commits or rolls back with tx, so it must be the transaction of the message's effect.
func FirstDelivery(ctx context.Context, tx *sql.Tx, consumer, messageID string) (bool, error) {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO processed_messages (consumer, message_id) VALUES (?, ?)", consumer, messageID)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY: processed before
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record message %s for %s: %w", messageID, consumer, err)
	}
	return true, nil
}

// Producer publishes records and waits for the broker's answer. *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Relay moves one service's outbox rows to Kafka.
type Relay struct {
	DB       *sql.DB
	Producer Producer
	Service  string // prefix of the message ids: ids of two services' outboxes never collide
	Batch    int    // rows per RunOnce
}

// RunOnce publishes up to Batch unpublished rows, oldest first, each with its MessageIDHeader, and marks them
// published. On any error the rows stay unpublished for a later run. Publish first, mark after: a crash in
// between publishes a row twice (a duplicate the idempotent consumer absorbs), never marks one that was not
// published.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	tx, err := r.DB.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, topic, msg_key, payload, traceparent FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`, r.Batch)
	if err != nil {
		return 0, fmt.Errorf("select unpublished: %w", err)
	}
	var ids []any
	var recs []*kgo.Record
	for rows.Next() {
		var id int64
		var key, traceparent string
		rec := &kgo.Record{}
		if err := rows.Scan(&id, &rec.Topic, &key, &rec.Value, &traceparent); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan outbox row: %w", err)
		}
		rec.Key = []byte(key)
		rec.Headers = []kgo.RecordHeader{{Key: MessageIDHeader, Value: fmt.Appendf(nil, "%s-%d", r.Service, id)}}
		if traceparent != "" {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: TraceHeader, Value: []byte(traceparent)})
		}
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

// Run calls RunOnce until ctx is done: again at once after a full batch, after every otherwise.
func (r *Relay) Run(ctx context.Context, every time.Duration, onErr func(error)) {
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
			return
		case <-time.After(every):
		}
	}
}

// Handler processes one record. An error means "not processed": the record is handed to it again. Its ctx
// carries the trace context of the record's TraceHeader, if it has one: a span the handler starts joins the
// trace of the request that enqueued the message.
type Handler func(ctx context.Context, r *kgo.Record) error

// RecordContext is ctx with the trace context that r's TraceHeader carries (ctx unchanged if none).
func RecordContext(ctx context.Context, r *kgo.Record) context.Context {
	for _, h := range r.Headers {
		if h.Key == TraceHeader {
			return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{TraceHeader: string(h.Value)})
		}
	}
	return ctx
}

// ConsumerConfig says what to consume.
type ConsumerConfig struct {
	Brokers []string
	Group   string // one group per service: each service sees every event, and its offsets survive restarts
	Topic   string
	Backoff time.Duration // wait before handing a failed record to the handler again
	OnError func(error)   // told about every failed attempt (may be nil)
}

// Consume reads cfg.Topic as a member of cfg.Group, from the start when the group has no offset yet, and
// hands each record to h, in order within a partition. A record that fails is handed to h again after
// cfg.Backoff, until it succeeds or ctx ends: a later record of its partition never overtakes it. A record's
// offset is committed right after h returned nil for it, so a process that dies between the two hands the
// record to the next process again (at least once: 至少一次). Consume returns nil when ctx is done.
func Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), // autocommit commits what was polled, handled or not
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return fmt.Errorf("consumer client: %w", err)
	}
	defer func() {
		cl.AllowRebalance()
		cl.Close() // leaves the group at once: a restarted member gets the partitions without waiting
	}()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll %s: %w", cfg.Topic, err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			for {
				err := h(RecordContext(ctx, r), r)
				if err == nil {
					break
				}
				if cfg.OnError != nil {
					cfg.OnError(fmt.Errorf("handle %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err))
				}
				select {
				case <-ctx.Done():
					return nil // not committed: the next member of the group gets this record again
				case <-time.After(cfg.Backoff):
				}
			}
			if err := cl.CommitRecords(ctx, r); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("commit %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
		}
		cl.AllowRebalance()
	}
}
