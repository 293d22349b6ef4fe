package service

import (
	"context"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/repository"
)

// PlaceOrder places an order for a registered user: the stock it takes, the order and its OrderPlaced event
// are one local transaction. A repeated idempotency key returns the first order and created = false.
func (s *Service) PlaceOrder(ctx context.Context, cmd domain.PlaceOrder) (o domain.Order, created bool, err error) {
	if err := validate(cmd); err != nil {
		return domain.Order{}, false, err
	}
	// Ask the user service before the transaction: a remote call must never run while we hold row locks.
	ok, err := s.Users.Exists(ctx, cmd.UserID)
	if err != nil {
		return domain.Order{}, false, fmt.Errorf("check user %d: %w", cmd.UserID, err)
	}
	if !ok {
		return domain.Order{}, false, fmt.Errorf("user %d: %w", cmd.UserID, domain.ErrUserNotFound)
	}
	err = s.Repo.InTx(ctx, func(tx *repository.Tx) error {
		if cmd.IdempotencyKey != "" {
			prev, found, err := tx.OrderByKey(ctx, cmd.IdempotencyKey)
			if err != nil {
				return err
			}
			if found { // a retry: answer with the first order, take no stock again
				o = prev
				return nil
			}
		}
		items, err := tx.Reserve(ctx, cmd.Items)
		if err != nil {
			return err
		}
		o, err = tx.InsertOrder(ctx, domain.Order{UserID: cmd.UserID, Status: domain.StatusPending,
			TotalCents: total(items), Items: items, IdempotencyKey: cmd.IdempotencyKey})
		if err != nil {
			return err
		}
		created = true
		// In the same transaction as the order: the event exists if and only if the order does.
		return tx.Enqueue(ctx, domain.Event{Type: domain.EventOrderPlaced, OrderID: o.ID, UserID: o.UserID, TotalCents: o.TotalCents})
	})
	if err != nil {
		return domain.Order{}, false, err
	}
	return o, created, nil
}

// Pay charges a pending order's total through the payment service, then marks it paid and records OrderPaid
// in one local transaction. It returns the paid order and the payment's id.
func (s *Service) Pay(ctx context.Context, orderID, amountCents int64) (domain.Order, int64, error) {
	o, err := s.Repo.Order(ctx, orderID)
	if err != nil {
		return domain.Order{}, 0, err
	}
	// Refuse before any money moves: a charge cannot be taken back by returning an error.
	if o.Status != domain.StatusPending {
		return domain.Order{}, 0, fmt.Errorf("order %d is %s: %w", orderID, o.Status, domain.ErrNotPending)
	}
	if amountCents != o.TotalCents {
		return domain.Order{}, 0, fmt.Errorf("order %d: %d cents, want %d: %w", orderID, amountCents, o.TotalCents, domain.ErrAmountMismatch)
	}
	// The key is the order's, not the request's: when the reply is lost and the client retries, the payment
	// service sees the same key and takes the money once (幂等).
	paymentID, err := s.Payments.Charge(ctx, orderID, amountCents, PaymentKey(orderID))
	if err != nil {
		return domain.Order{}, 0, fmt.Errorf("charge order %d: %w", orderID, err)
	}
	// Paid only after the money was taken, and the event in the same transaction as the status: a crash
	// leaves either both or neither, and a retry charges nothing more.
	err = s.Repo.InTx(ctx, func(tx *repository.Tx) error {
		if err := tx.MarkPaid(ctx, orderID); err != nil {
			return err
		}
		return tx.Enqueue(ctx, domain.Event{Type: domain.EventOrderPaid, OrderID: o.ID, UserID: o.UserID,
			TotalCents: o.TotalCents, PaymentID: paymentID})
	})
	if err != nil {
		return domain.Order{}, 0, err
	}
	o.Status = domain.StatusPaid
	return o, paymentID, nil
}
