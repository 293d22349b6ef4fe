package service

import (
	"context"
	"errors"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
)

// PlaceOrder places an order for a registered user: the stock it takes, the order and its OrderPlaced event
// are one local transaction. A repeated idempotency key returns the first order and created = false.
func (s *Service) PlaceOrder(ctx context.Context, cmd domain.PlaceOrder) (o domain.Order, created bool, err error) {
	if err := validate(cmd); err != nil {
		return domain.Order{}, false, err
	}
	// TODO(11-checkout): ask s.Users whether cmd.UserID exists (domain.ErrUserNotFound if not; a failure to
	// ask is not "not found"). Then, in one s.Repo.InTx: return the order of cmd.IdempotencyKey if there is one
	// (created = false); otherwise Reserve the items, InsertOrder a pending order with the total, and Enqueue
	// an OrderPlaced event.
	return domain.Order{}, false, errors.New("TODO(11-checkout): PlaceOrder does not place orders yet")
}

// Pay charges a pending order's total through the payment service, then marks it paid and records OrderPaid
// in one local transaction. It returns the paid order and the payment's id.
func (s *Service) Pay(ctx context.Context, orderID, amountCents int64) (domain.Order, int64, error) {
	// TODO(11-checkout): read the order; refuse (domain.ErrNotPending, domain.ErrAmountMismatch) before any
	// money moves; Charge with the order's PaymentKey; then, in one s.Repo.InTx, MarkPaid and Enqueue OrderPaid.
	return domain.Order{}, 0, errors.New("TODO(11-checkout): Pay does not take payments yet")
}
