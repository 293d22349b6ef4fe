// Package order is the Order aggregate: the lines, the total and the status change together and only
// through methods that keep the rules. Fields are unexported, so no other package can put an order
// into a state the rules forbid; adapters use Snapshot and FromSnapshot to store it.
package order

import (
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
)

// Status is where an order is in its life.
type Status string

const (
	StatusPending   Status = "pending"
	StatusPaid      Status = "paid"
	StatusCancelled Status = "cancelled"
)

var (
	// ErrIllegalTransition means the order's status does not allow the change (paying a cancelled
	// order, cancelling a paid one). It is a conflict with the current state.
	ErrIllegalTransition = fmt.Errorf("illegal status transition: %w", domain.ErrConflict)
	// ErrAmountMismatch means a payment does not match the order's total.
	ErrAmountMismatch = fmt.Errorf("payment amount does not match the total: %w", domain.ErrConflict)
)

// Line is one product in an order, with its unit price at the time of the order.
type Line struct {
	ProductID  int64 `json:"product_id"`
	Quantity   int   `json:"quantity"`
	PriceCents int64 `json:"price_cents"`
}

// Order is the aggregate root.
type Order struct {
	id         int64
	userID     int64
	status     Status
	lines      []Line
	totalCents int64
	paymentID  string
}

// New returns a pending order, or an error wrapping domain.ErrInvalid.
func New(userID int64, lines []Line) (*Order, error) {
	// TODO(02-aggregate): validate and build the order. Reject (wrapping domain.ErrInvalid):
	// a user id below 1, no lines, a product id below 1, a quantity below 1, a price below 1, the
	// same product twice, and a total that does not fit in int64. The total is the sum of price ×
	// quantity, in int64 cents (never float64). The order must not share the caller's slice:
	// changing `lines` after New returns must not change the order.
	return nil, errors.New("TODO(02-aggregate): order.New is not implemented")
}

func (o *Order) ID() int64         { return o.id }
func (o *Order) UserID() int64     { return o.userID }
func (o *Order) Status() Status    { return o.status }
func (o *Order) TotalCents() int64 { return o.totalCents }
func (o *Order) PaymentID() string { return o.paymentID }

// Lines returns the order's lines.
func (o *Order) Lines() []Line {
	// TODO(02-aggregate): return a copy, so that callers cannot edit the order behind its back.
	return o.lines
}

// CanPay says whether Pay(amountCents, ...) would succeed, without changing anything.
func (o *Order) CanPay(amountCents int64) error {
	// TODO(02-aggregate): only a pending order can be paid (else ErrIllegalTransition), and only with
	// exactly its total (else ErrAmountMismatch). Wrap them with %w and some context.
	return errors.New("TODO(02-aggregate): Order.CanPay is not implemented")
}

// Pay marks a pending order paid by the payment paymentID. On error the order is unchanged.
func (o *Order) Pay(amountCents int64, paymentID string) error {
	// TODO(02-aggregate): check CanPay, refuse an empty paymentID (domain.ErrInvalid), then set the
	// status to paid and remember the payment id.
	return errors.New("TODO(02-aggregate): Order.Pay is not implemented")
}

// Cancel cancels a pending order.
func (o *Order) Cancel() error {
	// TODO(02-aggregate): only a pending order can be cancelled; a paid or cancelled one is
	// ErrIllegalTransition and stays as it is.
	return errors.New("TODO(02-aggregate): Order.Cancel is not implemented")
}
