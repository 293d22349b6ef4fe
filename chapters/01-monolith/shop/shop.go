// Package shop is the whole business of the monolith: users, products, orders and payments,
// stored in MySQL. In chapter 02 it is split into layers; here it is one package on purpose.
package shop

import (
	"database/sql"
	"errors"
	"fmt"
)

// The error vocabulary of the shop. Callers test it with errors.Is; the HTTP layer maps it to
// status codes in exactly one place (httpapi/errors.go).
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request clashes with the current state (a taken email, a paid order).
	ErrConflict = errors.New("conflict")
	// ErrOutOfStock is a conflict: there are not enough units left.
	ErrOutOfStock = fmt.Errorf("out of stock: %w", ErrConflict)
	// ErrInvalid means the input breaks a rule that the HTTP binding should already have caught.
	ErrInvalid = errors.New("invalid input")
	// ErrKeyReused means an idempotency key came back with a different request than the one it was first
	// used for. Replaying the first order would answer a question the client did not ask.
	ErrKeyReused = errors.New("idempotency key reused with a different request")
)

// Order statuses.
const (
	StatusPending = "pending"
	StatusPaid    = "paid"
)

// User is a customer.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Product is something to sell. Money is always integer cents: floats cannot hold 0.10 exactly.
type Product struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int    `json:"stock"`
}

// Item is one line of an order request.
type Item struct {
	ProductID int64
	Quantity  int
}

// NewOrder is what PlaceOrder needs.
type NewOrder struct {
	UserID int64
	Items  []Item
	// IdempotencyKey, when not empty, makes PlaceOrder idempotent per user (see 01-idempotency).
	IdempotencyKey string
}

// OrderLine is one stored line of an order, with the unit price at the time of the order.
type OrderLine struct {
	ProductID  int64 `json:"product_id"`
	Quantity   int   `json:"quantity"`
	PriceCents int64 `json:"price_cents"`
}

// Order is a placed order.
type Order struct {
	ID         int64       `json:"id"`
	UserID     int64       `json:"user_id"`
	Status     string      `json:"status"`
	TotalCents int64       `json:"total_cents"`
	Items      []OrderLine `json:"items"`
}

// Payment records that an order was paid.
type Payment struct {
	ID          int64 `json:"id"`
	OrderID     int64 `json:"order_id"`
	AmountCents int64 `json:"amount_cents"`
}

// Store keeps the shop in MySQL. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// NewStore returns a Store on db. Run Migrate once before using it.
func NewStore(db *sql.DB) *Store { return &Store{db: db} }
