// Package order is the Order aggregate: the lines, the total and the status change together and only
// through methods that keep the rules. Fields are unexported, so no other package can put an order
// into a state the rules forbid; adapters use Snapshot and FromSnapshot to store it.
package order

import (
	"fmt"
	"math"
	"slices"

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

// New returns a pending order, or an error wrapping domain.ErrInvalid. The constructor is the only way
// in, so every Order that exists is valid: no code elsewhere has to re-check.
func New(userID int64, lines []Line) (*Order, error) {
	if userID < 1 {
		return nil, fmt.Errorf("order: user id %d: %w", userID, domain.ErrInvalid)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("order: no lines: %w", domain.ErrInvalid)
	}
	seen := make(map[int64]bool, len(lines))
	var total int64
	for _, l := range lines {
		switch {
		case l.ProductID < 1:
			return nil, fmt.Errorf("order: product id %d: %w", l.ProductID, domain.ErrInvalid)
		case l.Quantity < 1:
			return nil, fmt.Errorf("order: product %d quantity %d: %w", l.ProductID, l.Quantity, domain.ErrInvalid)
		case l.PriceCents < 1:
			return nil, fmt.Errorf("order: product %d price %d: %w", l.ProductID, l.PriceCents, domain.ErrInvalid)
		case seen[l.ProductID]:
			return nil, fmt.Errorf("order: product %d twice: %w", l.ProductID, domain.ErrInvalid)
		}
		seen[l.ProductID] = true
		// price × quantity and the sum must fit in int64, or the total wraps around to a small or
		// negative amount that a client could then pay.
		if l.PriceCents > (math.MaxInt64-total)/int64(l.Quantity) {
			return nil, fmt.Errorf("order: product %d: total overflows: %w", l.ProductID, domain.ErrInvalid)
		}
		total += l.PriceCents * int64(l.Quantity)
	}
	// Clone: the caller keeps its slice, and changing it later must not change this order.
	return &Order{userID: userID, status: StatusPending, lines: slices.Clone(lines), totalCents: total}, nil
}

func (o *Order) ID() int64         { return o.id }
func (o *Order) UserID() int64     { return o.userID }
func (o *Order) Status() Status    { return o.status }
func (o *Order) TotalCents() int64 { return o.totalCents }
func (o *Order) PaymentID() string { return o.paymentID }

// Lines returns a copy: handing out the slice itself would let callers edit the order behind its back.
func (o *Order) Lines() []Line { return slices.Clone(o.lines) }

// CanPay says whether Pay(amountCents, ...) would succeed, without changing anything. Callers use it
// to decide before a side effect (charging a card) that cannot be undone.
func (o *Order) CanPay(amountCents int64) error {
	if o.status != StatusPending {
		return fmt.Errorf("pay order %d (%s): %w", o.id, o.status, ErrIllegalTransition)
	}
	if amountCents != o.totalCents {
		return fmt.Errorf("pay order %d: amount %d, total %d: %w", o.id, amountCents, o.totalCents, ErrAmountMismatch)
	}
	return nil
}

// Pay marks a pending order paid by the payment paymentID. On error the order is unchanged.
func (o *Order) Pay(amountCents int64, paymentID string) error {
	if err := o.CanPay(amountCents); err != nil {
		return err
	}
	if paymentID == "" {
		return fmt.Errorf("pay order %d: empty payment id: %w", o.id, domain.ErrInvalid)
	}
	o.status, o.paymentID = StatusPaid, paymentID
	return nil
}

// Cancel cancels a pending order. A paid order must be refunded, not cancelled, and cancelling twice
// is a mistake the caller should hear about.
func (o *Order) Cancel() error {
	if o.status != StatusPending {
		return fmt.Errorf("cancel order %d (%s): %w", o.id, o.status, ErrIllegalTransition)
	}
	o.status = StatusCancelled
	return nil
}
