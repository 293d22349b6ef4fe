package shop

import (
	"fmt"
	"math"
)

// OrderStatus is where an order is in its life.
type OrderStatus int

const (
	StatusPending OrderStatus = iota + 1
	StatusPaid
	StatusCancelled
)

func (s OrderStatus) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusPaid:
		return "paid"
	case StatusCancelled:
		return "cancelled"
	}
	return fmt.Sprintf("OrderStatus(%d)", int(s))
}

// Order is one purchase. Money is integer cents.
type Order struct {
	ID         string
	RequestID  string // the client's idempotency key
	UserID     string
	SKU        string
	Quantity   int
	TotalCents int64
	Status     OrderStatus
}

// NewOrder validates a new pending order. The store assigns the id.
func NewOrder(requestID, userID, sku string, quantity int, unitPriceCents int64) (Order, error) {
	switch {
	case requestID == "":
		return Order{}, invalid("request_id", "must be set so that retries are safe")
	case userID == "":
		return Order{}, invalid("user_id", "must be set")
	case sku == "":
		return Order{}, invalid("sku", "must be set")
	case quantity < 1 || quantity > 100:
		return Order{}, invalid("quantity", "must be between 1 and 100")
	case unitPriceCents < 1:
		return Order{}, invalid("unit_price_cents", "must be positive")
	case unitPriceCents > math.MaxInt64/int64(quantity):
		// quantity * unitPriceCents would wrap around to a negative (or tiny) total: an order the
		// client would be paid for. Check before multiplying; after, the evidence is gone.
		return Order{}, invalid("unit_price_cents", "quantity * unit_price_cents overflows the total")
	}
	return Order{
		RequestID:  requestID,
		UserID:     userID,
		SKU:        sku,
		Quantity:   quantity,
		TotalCents: int64(quantity) * unitPriceCents,
		Status:     StatusPending,
	}, nil
}

// Pay moves a pending order to paid.
func (o *Order) Pay() error {
	if o.Status != StatusPending {
		return fmt.Errorf("pay order %s (%s): %w", o.ID, o.Status, ErrIllegalTransition)
	}
	o.Status = StatusPaid
	return nil
}

// Cancel moves a pending order to cancelled. A paid order cannot be cancelled (it needs a refund).
func (o *Order) Cancel() error {
	if o.Status != StatusPending {
		return fmt.Errorf("cancel order %s (%s): %w", o.ID, o.Status, ErrIllegalTransition)
	}
	o.Status = StatusCancelled
	return nil
}
