package txmsg

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// This file is the business service's given part: its tables, its link to the message server, and one
// business operation (PlaceOrder) built on DoAndSubmit.

// MsgServer is the message server as the business sees it (a client of *Server). Tests wrap it to lose
// calls, stall them or crash the process around them.
type MsgServer interface {
	Prepare(ctx context.Context, m Msg) error
	Submit(ctx context.Context, gid string) error
	Abort(ctx context.Context, gid string) error
}

// Service is one instance of the business service.
type Service struct {
	DB   *sql.DB
	Msgs MsgServer
}

// BarrierSchema is the business's marker table: at most one row per message gid. The business transaction
// inserts (gid, ReasonCommitted); a back-check inserts (gid, ReasonRollback). Whichever commits first wins,
// and the primary key makes the other one fail or wait.
const BarrierSchema = `CREATE TABLE IF NOT EXISTS msg_barrier (
	gid        VARCHAR(128) NOT NULL PRIMARY KEY,
	reason     VARCHAR(16)  NOT NULL,
	created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB`

// The reasons of a msg_barrier row.
const (
	ReasonCommitted = "committed" // written by the business transaction itself
	ReasonRollback  = "rollback"  // written by a back-check that found no committed marker
)

// OrdersSchema is the business table of PlaceOrder.
const OrdersSchema = `CREATE TABLE IF NOT EXISTS orders (
	id      VARCHAR(64) NOT NULL PRIMARY KEY,
	user_id BIGINT NOT NULL,
	total   BIGINT NOT NULL
) ENGINE=InnoDB`

// ErrRolledBack is DoAndSubmit's answer when gid's marker cannot be written because a back-check already
// decided that the transaction rolled back (its row is in msg_barrier): the business must not commit.
var ErrRolledBack = errors.New("txmsg: the back-check already decided this message rolled back")

// ErrInvalidOrder is PlaceOrder's business failure.
var ErrInvalidOrder = errors.New("invalid order")

// Migrate creates the business's tables.
func Migrate(ctx context.Context, db *sql.DB) error {
	for _, s := range []string{BarrierSchema, OrdersSchema} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// Order is what PlaceOrder stores, and the payload of its order.created message (JSON).
type Order struct {
	ID     string `json:"id"`
	UserID int64  `json:"user_id"`
	Total  int64  `json:"total"`
}

// PlaceOrder stores o and publishes its order.created message on topic, both or neither. The message's gid is
// "order-" + o.ID.
func (s *Service) PlaceOrder(ctx context.Context, topic string, o Order) error {
	payload, err := json.Marshal(o)
	if err != nil {
		return err
	}
	m := Msg{Gid: "order-" + o.ID, Topic: topic, Key: o.ID, Payload: payload}
	return s.DoAndSubmit(ctx, m, func(tx *sql.Tx) error {
		if o.Total <= 0 {
			return fmt.Errorf("order %s: total %d: %w", o.ID, o.Total, ErrInvalidOrder)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO orders (id, user_id, total) VALUES (?, ?, ?)`, o.ID, o.UserID, o.Total)
		if err != nil {
			return fmt.Errorf("insert order %s: %w", o.ID, err)
		}
		return nil
	})
}

// duplicateKey reports whether err is MySQL's error 1062, "Duplicate entry ... for key".
func duplicateKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
