package txmsg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file is the message server, given: the part that RocketMQ's broker (half messages) or dtm's server (msg
// mode) plays. It keeps every message in its own MySQL table and publishes to Kafka only what the business
// says, or its back-check answers, was committed.

// State is where a message is on the server.
type State string

const (
	StatePrepared  State = "prepared"  // registered, not deliverable: the business transaction is open or unknown
	StatePublished State = "published" // submitted and delivered to Kafka
	StateAborted   State = "aborted"   // the business transaction rolled back: never delivered
)

// Msg is one message: Gid is its global id (the business's dedupe key, and the message-id header in Kafka).
type Msg struct {
	Gid     string
	Topic   string
	Key     string
	Payload []byte
}

// MessageIDHeader is the Kafka record header that carries the message's Gid, for an idempotent consumer.
const MessageIDHeader = "message-id"

var (
	// ErrNotFound is Submit's or Abort's answer for a gid that was never prepared.
	ErrNotFound = errors.New("txmsg: no such message")
	// ErrAborted is Submit's answer for a message that was aborted (by the business or by a back-check).
	ErrAborted = errors.New("txmsg: message was aborted")
	// ErrPublished is Abort's answer for a message that was already published.
	ErrPublished = errors.New("txmsg: message was already published")
)

// Outcome is a back-check's answer: what became of the business transaction of a prepared message.
type Outcome int

const (
	// Committed: the business transaction committed; the message must be delivered.
	Committed Outcome = iota + 1
	// RolledBack: the business transaction did not commit and never will; the message must never be delivered.
	RolledBack
)

func (o Outcome) String() string {
	switch o {
	case Committed:
		return "Committed"
	case RolledBack:
		return "RolledBack"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// BackCheck asks the business what became of gid's transaction. An error means "ask again later".
type BackCheck func(ctx context.Context, gid string) (Outcome, error)

// Producer publishes records and waits for the broker's answer. *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// ServerSchema is the message server's table.
const ServerSchema = `CREATE TABLE IF NOT EXISTS trans_msg (
	gid        VARCHAR(128) NOT NULL PRIMARY KEY,
	topic      VARCHAR(255) NOT NULL,
	msg_key    VARCHAR(255) NOT NULL,
	payload    BLOB NOT NULL,
	state      VARCHAR(16)  NOT NULL,
	created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY prepared (state, created_at)
) ENGINE=InnoDB`

// Server is the message server. One server serves many business services; here, one back-check.
type Server struct {
	DB        *sql.DB
	Producer  Producer
	BackCheck BackCheck // the business's back-check endpoint (dtm stores a URL per message)
}

// MigrateServer creates the server's table.
func MigrateServer(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, ServerSchema); err != nil {
		return fmt.Errorf("create table trans_msg: %w", err)
	}
	return nil
}

// Prepare registers m as prepared: stored, not deliverable. Preparing a prepared gid again is a no-op; a gid
// that was aborted or published is refused (ErrAborted, ErrPublished): a gid is used once.
func (s *Server) Prepare(ctx context.Context, m Msg) error {
	res, err := s.DB.ExecContext(ctx,
		`INSERT IGNORE INTO trans_msg (gid, topic, msg_key, payload, state) VALUES (?, ?, ?, ?, ?)`,
		m.Gid, m.Topic, m.Key, m.Payload, StatePrepared)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", m.Gid, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	switch st, err := s.State(ctx, m.Gid); {
	case err != nil:
		return fmt.Errorf("prepare %s: %w", m.Gid, err)
	case st == StateAborted:
		return fmt.Errorf("prepare %s: %w", m.Gid, ErrAborted)
	case st == StatePublished:
		return fmt.Errorf("prepare %s: %w", m.Gid, ErrPublished)
	}
	return nil
}

// Submit makes gid deliverable and publishes it. A message published already is not published again
// (ErrAborted for an aborted one). On an error the message stays prepared, and the checker resolves it.
func (s *Server) Submit(ctx context.Context, gid string) error {
	return s.withMsg(ctx, gid, func(tx *sql.Tx, m Msg, st State) error {
		switch st {
		case StatePublished:
			return nil
		case StateAborted:
			return fmt.Errorf("submit %s: %w", gid, ErrAborted)
		}
		return s.publish(ctx, tx, m)
	})
}

// Abort marks a prepared gid aborted. Aborting again is a no-op; a published message cannot be aborted.
func (s *Server) Abort(ctx context.Context, gid string) error {
	return s.withMsg(ctx, gid, func(tx *sql.Tx, _ Msg, st State) error {
		switch st {
		case StateAborted:
			return nil
		case StatePublished:
			return fmt.Errorf("abort %s: %w", gid, ErrPublished)
		}
		return setState(ctx, tx, gid, StateAborted)
	})
}

// CheckOnce resolves every message that has been prepared for at least olderThan: it asks the back-check,
// then publishes (Committed) or aborts (RolledBack) it. A back-check error leaves the message for the next
// run. It returns how many it resolved. Several checkers may run at once: each message is resolved once.
func (s *Server) CheckOnce(ctx context.Context, olderThan time.Duration) (int, error) {
	rows, err := s.DB.QueryContext(ctx,
		`SELECT gid FROM trans_msg WHERE state = ? AND created_at <= NOW(6) - INTERVAL ? MICROSECOND ORDER BY created_at`,
		StatePrepared, olderThan.Microseconds())
	if err != nil {
		return 0, fmt.Errorf("list prepared messages: %w", err)
	}
	var gids []string
	for rows.Next() {
		var gid string
		if err := rows.Scan(&gid); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list prepared messages: %w", err)
		}
		gids = append(gids, gid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list prepared messages: %w", err)
	}
	resolved := 0
	var errs []error
	for _, gid := range gids {
		// The row lock is held across the back-check, so that two checkers never ask about one message at
		// once, and a Submit that comes meanwhile waits and then finds the message resolved.
		err := s.withMsg(ctx, gid, func(tx *sql.Tx, m Msg, st State) error {
			if st != StatePrepared {
				return nil // another checker, or a Submit, got there first
			}
			o, err := s.BackCheck(ctx, gid)
			if err != nil {
				return fmt.Errorf("back-check %s: %w", gid, err)
			}
			switch o {
			case Committed:
				err = s.publish(ctx, tx, m)
			case RolledBack:
				err = setState(ctx, tx, gid, StateAborted)
			default:
				return fmt.Errorf("back-check %s: answered %v, want Committed or RolledBack", gid, o)
			}
			if err == nil {
				resolved++
			}
			return err
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return resolved, errors.Join(errs...)
}

// Run calls CheckOnce every interval until ctx ends; errors go to onErr (and the messages stay for later).
func (s *Server) Run(ctx context.Context, every, olderThan time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.CheckOnce(ctx, olderThan); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// State returns gid's state on the server.
func (s *Server) State(ctx context.Context, gid string) (State, error) {
	var st State
	err := s.DB.QueryRowContext(ctx, `SELECT state FROM trans_msg WHERE gid = ?`, gid).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("state of %s: %w", gid, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", gid, err)
	}
	return st, nil
}

// withMsg runs fn with gid's row locked (SELECT ... FOR UPDATE) and commits when fn returns nil.
func (s *Server) withMsg(ctx context.Context, gid string, fn func(tx *sql.Tx, m Msg, st State) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	m := Msg{Gid: gid}
	var st State
	err = tx.QueryRowContext(ctx, `SELECT topic, msg_key, payload, state FROM trans_msg WHERE gid = ? FOR UPDATE`, gid).
		Scan(&m.Topic, &m.Key, &m.Payload, &st)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("message %s: %w", gid, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("lock message %s: %w", gid, err)
	}
	if err := fn(tx, m, st); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit message %s: %w", gid, err)
	}
	return nil
}

// publish delivers m, then marks it published in tx. A crash between the two publishes it again later: the
// consumer drops the duplicate by its message-id header (chapter 07's idempotent consumer).
func (s *Server) publish(ctx context.Context, tx *sql.Tx, m Msg) error {
	rec := &kgo.Record{Topic: m.Topic, Key: []byte(m.Key), Value: m.Payload,
		Headers: []kgo.RecordHeader{{Key: MessageIDHeader, Value: []byte(m.Gid)}}}
	if err := s.Producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("publish %s: %w", m.Gid, err)
	}
	return setState(ctx, tx, m.Gid, StatePublished)
}

func setState(ctx context.Context, tx *sql.Tx, gid string, st State) error {
	if _, err := tx.ExecContext(ctx, `UPDATE trans_msg SET state = ? WHERE gid = ?`, st, gid); err != nil {
		return fmt.Errorf("mark %s %s: %w", gid, st, err)
	}
	return nil
}
