// Package choreo is a choreographed saga (编排 vs 协同: this is the 协同 kind): the checkout of 08-saga again,
// but with no orchestrator. Four services each own their database and react to events on one Kafka topic:
//
//	order     PlaceOrder ──────────────▶ OrderPlaced
//	inventory OrderPlaced   ─ reserve ─▶ StockReserved  | StockRejected (out of stock)
//	payment   StockReserved ─ charge  ─▶ PaymentCharged | PaymentDeclined (not enough money)
//	shipping  PaymentCharged ─ ship   ─▶ Shipped        | ShipmentFailed (address not deliverable)
//	order     Shipped ▶ completed; StockRejected, PaymentDeclined, ShipmentFailed ▶ cancelled
//
// A failure event makes every service that already did its step undo it: PaymentDeclined releases the stock,
// ShipmentFailed refunds the money and releases the stock. Shipping cannot be undone, so it comes last (the
// pivot, as in 08-saga).
//
// Two rules make it safe, and both are chapter 07's: an event leaves a service only through its outbox, in
// the same local transaction as the state change it announces; and a service records the id of every message
// it handled in the same transaction as the effect, so a delivery that comes again changes nothing.
package choreo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/outbox"
)

// The event types. Every event carries the whole order, so a service needs no call to another one.
const (
	OrderPlaced     = "OrderPlaced"
	StockReserved   = "StockReserved"
	StockRejected   = "StockRejected"
	PaymentCharged  = "PaymentCharged"
	PaymentDeclined = "PaymentDeclined"
	Shipped         = "Shipped"
	ShipmentFailed  = "ShipmentFailed"
)

// Order is what the customer bought. Amount is in cents.
type Order struct {
	ID      string `json:"id"`
	UserID  int64  `json:"user_id"`
	SKU     string `json:"sku"`
	Qty     int64  `json:"qty"`
	Amount  int64  `json:"amount"`
	Address string `json:"address"`
}

// Event is the payload of every record on the topic. Its key is the order id: all events of one order go to
// one partition, in the order they were published.
type Event struct {
	Type  string `json:"type"`
	Order Order  `json:"order"`
}

// Decode reads an event from a record's value.
func Decode(value []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(value, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// Service is what the four services share: a name (their consumer name and message-id prefix), their own
// database, and the topic they publish to.
type Service struct {
	Name  string
	DB    *sql.DB
	Topic string
}

// Emit writes event typ about o into the service's outbox, inside tx: it is published if and only if tx
// commits. It is the only way an event leaves a service.
func (s *Service) Emit(ctx context.Context, tx *sql.Tx, typ string, o Order) error {
	payload, err := json.Marshal(Event{Type: typ, Order: o})
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	return outbox.Enqueue(ctx, tx, s.Topic, o.ID, payload)
}

// InTx runs f in a transaction of the service's database and commits it when f returns nil; any error rolls
// everything f did back.
func (s *Service) InTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.Name, err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.Name, err)
	}
	return nil
}

// Handler is a service's reaction to one event. msgID is the event's message id (the outbox row it came from):
// a redelivery of the same event carries the same id. An error means "not handled": the event is delivered
// again, so everything a failed call did must roll back.
type Handler interface {
	Handle(ctx context.Context, msgID string, ev Event) error
}

func migrate(ctx context.Context, db *sql.DB, name string, own ...string) error {
	for _, stmt := range append(append([]string(nil), outbox.Schema...), own...) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: migrate: %w", name, err)
		}
	}
	return nil
}

// OrderService owns the orders: pending until the saga ends, then completed or cancelled.
type OrderService struct{ Service }

// Order states.
const (
	OrderPending   = "pending"
	OrderCompleted = "completed"
	OrderCancelled = "cancelled"
)

// Migrate creates the order service's tables.
func (s *OrderService) Migrate(ctx context.Context) error {
	return migrate(ctx, s.DB, s.Name, `CREATE TABLE IF NOT EXISTS orders (
	id      VARCHAR(64) NOT NULL PRIMARY KEY,
	user_id BIGINT      NOT NULL,
	amount  BIGINT      NOT NULL,
	state   VARCHAR(16) NOT NULL
) ENGINE=InnoDB`)
}

// PlaceOrder stores o as pending and emits OrderPlaced, in one transaction: this starts the saga.
func (s *OrderService) PlaceOrder(ctx context.Context, o Order) error {
	return s.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, user_id, amount, state) VALUES (?, ?, ?, ?)`,
			o.ID, o.UserID, o.Amount, OrderPending); err != nil {
			return fmt.Errorf("order: insert %s: %w", o.ID, err)
		}
		return s.Emit(ctx, tx, OrderPlaced, o)
	})
}

// Inventory owns the stock and the reservations of it.
type Inventory struct{ Service }

// Reservation states.
const (
	Reserved = "reserved"
	Released = "released"
)

// Migrate creates the inventory's tables.
func (s *Inventory) Migrate(ctx context.Context) error {
	return migrate(ctx, s.DB, s.Name, `CREATE TABLE IF NOT EXISTS stock (
	sku VARCHAR(64) NOT NULL PRIMARY KEY,
	qty BIGINT      NOT NULL
) ENGINE=InnoDB`, `CREATE TABLE IF NOT EXISTS reservations (
	order_id VARCHAR(64) NOT NULL PRIMARY KEY,
	sku      VARCHAR(64) NOT NULL,
	qty      BIGINT      NOT NULL,
	state    VARCHAR(16) NOT NULL
) ENGINE=InnoDB`)
}

// AddStock puts qty items of sku in stock.
func (s *Inventory) AddStock(ctx context.Context, sku string, qty int64) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO stock (sku, qty) VALUES (?, ?) ON DUPLICATE KEY UPDATE qty = qty + ?`, sku, qty, qty)
	return err
}

// Payment owns the wallets and the payments taken from them.
type Payment struct{ Service }

// Payment states.
const (
	Charged  = "charged"
	Refunded = "refunded"
)

// Migrate creates the payment service's tables.
func (s *Payment) Migrate(ctx context.Context) error {
	return migrate(ctx, s.DB, s.Name, `CREATE TABLE IF NOT EXISTS wallets (
	user_id BIGINT NOT NULL PRIMARY KEY,
	balance BIGINT NOT NULL
) ENGINE=InnoDB`, `CREATE TABLE IF NOT EXISTS payments (
	order_id VARCHAR(64) NOT NULL PRIMARY KEY,
	user_id  BIGINT      NOT NULL,
	amount   BIGINT      NOT NULL,
	state    VARCHAR(16) NOT NULL
) ENGINE=InnoDB`)
}

// Deposit adds amount cents to the user's wallet.
func (s *Payment) Deposit(ctx context.Context, userID, amount int64) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO wallets (user_id, balance) VALUES (?, ?) ON DUPLICATE KEY UPDATE balance = balance + ?`, userID, amount, amount)
	return err
}

// Shipping owns the shipments. A shipment cannot be undone: the parcel is gone.
type Shipping struct{ Service }

// Migrate creates the shipping service's table.
func (s *Shipping) Migrate(ctx context.Context) error {
	return migrate(ctx, s.DB, s.Name, `CREATE TABLE IF NOT EXISTS shipments (
	order_id VARCHAR(64)  NOT NULL PRIMARY KEY,
	address  VARCHAR(255) NOT NULL
) ENGINE=InnoDB`)
}

// Deliverable reports whether the carrier delivers to address: not to addresses that start with "nowhere".
func Deliverable(address string) bool { return !strings.HasPrefix(address, "nowhere") }

var errTODO = errors.New("TODO(08-choreo): not implemented")
