package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/repository"
)

// ExpireOrder is the compensation of the checkout saga: an order that was not paid in time is cancelled, its
// stock goes back on sale and OrderCancelled is published, all in one local transaction, but only after
// the payment service has closed the order's payment. If the payment service answers that the money was
// taken already, the saga goes forward instead and the order is marked paid. A failure to close the payment
// is returned as an error, and the order stays pending. Two instances may run it on one order at once: one
// of them decides, and an order that is not pending (before, or because the other instance got there first)
// is returned as it is, with no error.
func (s *Service) ExpireOrder(ctx context.Context, orderID int64) (domain.Order, error) {
	o, err := s.Repo.Order(ctx, orderID)
	if err != nil {
		return domain.Order{}, err
	}
	if o.Status != domain.StatusPending {
		return o, nil
	}
	// Close first, cancel second (先关单，再取消). The other order leaves a window: a Pay that read "pending"
	// just before the cancel has its Charge on the way, the charge lands after the cancel, and the customer
	// pays for an order whose stock was sold again. After Close, no Charge with this key can succeed.
	// The key is PaymentKey(orderID), the one every Pay and every background retry uses.
	closed, paymentID, err := s.Closer.Close(ctx, orderID, PaymentKey(orderID))
	if err != nil {
		// Not knowing is not "not paid": the order stays pending, and the next look asks again.
		return domain.Order{}, fmt.Errorf("close the payment of order %d: %w", orderID, err)
	}
	if !closed {
		// The charge won: the money was taken, but the Pay that took it has not recorded it (it crashed
		// between Charge and MarkPaid, or its reply is still on the way). Cancelling now would keep the money
		// and release the stock; going forward is what the customer paid for (补单).
		err = s.Repo.InTx(ctx, func(tx *repository.Tx) error {
			if err := tx.MarkPaid(ctx, orderID); err != nil {
				return err
			}
			return tx.Enqueue(ctx, domain.Event{Type: domain.EventOrderPaid, OrderID: o.ID, UserID: o.UserID,
				TotalCents: o.TotalCents, PaymentID: paymentID})
		})
		return s.settled(ctx, o, domain.StatusPaid, err)
	}
	err = s.Repo.InTx(ctx, func(tx *repository.Tx) error {
		// Cancel first: its UPDATE takes the order's row lock and fails with ErrNotPending if another
		// instance got there first, so the stock is released once, by whoever changed the status.
		if err := tx.Cancel(ctx, orderID); err != nil {
			return err
		}
		if err := tx.Release(ctx, o.Items); err != nil {
			return err
		}
		return tx.Enqueue(ctx, domain.Event{Type: domain.EventOrderCancelled, OrderID: o.ID, UserID: o.UserID,
			TotalCents: o.TotalCents})
	})
	return s.settled(ctx, o, domain.StatusCancelled, err)
}

// settled is the end of ExpireOrder: the order in the status its transaction gave it, or, when another
// instance (or Pay) changed the status first and the transaction rolled back, the order as it is now.
func (s *Service) settled(ctx context.Context, o domain.Order, st domain.Status, err error) (domain.Order, error) {
	if errors.Is(err, domain.ErrNotPending) {
		return s.Repo.Order(ctx, o.ID)
	}
	if err != nil {
		return domain.Order{}, err
	}
	o.Status = st
	return o, nil
}
