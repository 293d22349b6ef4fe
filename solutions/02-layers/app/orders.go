package app

import (
	"context"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// Item is one line of an order request.
type Item struct {
	ProductID int64
	Quantity  int
}

// PlaceOrder prices the items from the catalogue, builds the aggregate (which validates) and lets the
// repository take the stock and store it in one transaction. created is false for a replayed key.
func (s *Service) PlaceOrder(ctx context.Context, userID int64, items []Item, idemKey string) (o *order.Order, created bool, err error) {
	if _, err := s.users.GetUser(ctx, userID); err != nil {
		return nil, false, fmt.Errorf("place order: %w", err)
	}
	lines := make([]order.Line, 0, len(items))
	for _, it := range items {
		p, err := s.products.GetProduct(ctx, it.ProductID)
		if err != nil {
			return nil, false, fmt.Errorf("place order: %w", err)
		}
		lines = append(lines, order.Line{ProductID: p.ID, Quantity: it.Quantity, PriceCents: p.PriceCents})
	}
	o, err = order.New(userID, lines)
	if err != nil {
		return nil, false, err
	}
	o, created, err = s.orders.CreateOrder(ctx, o, idemKey)
	if err != nil {
		return nil, false, fmt.Errorf("place order: %w", err)
	}
	return o, created, nil
}

// GetOrder returns an order.
func (s *Service) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	return s.orders.GetOrder(ctx, id)
}

// CancelOrder cancels a pending order; the rule is the aggregate's, the transaction the repository's.
func (s *Service) CancelOrder(ctx context.Context, id int64) error {
	return s.orders.UpdateOrder(ctx, id, func(o *order.Order) error { return o.Cancel() })
}

// PayOrder charges amountCents for a pending order and marks it paid.
//
// The charge happens inside UpdateOrder's closure, after the aggregate said yes (CanPay): the
// repository holds the order, so two concurrent payments cannot both see "pending", and an order that
// cannot be paid is never charged. If the charge fails, the closure fails and nothing is stored.
// The trade-off: a slow payment provider holds the order's row lock for the length of the call.
// Chapter 08 replaces this with a saga when payments become a separate service.
func (s *Service) PayOrder(ctx context.Context, id, amountCents int64) (paymentID string, err error) {
	err = s.orders.UpdateOrder(ctx, id, func(o *order.Order) error {
		if err := o.CanPay(amountCents); err != nil {
			return err
		}
		pid, err := s.payments.Charge(ctx, id, amountCents)
		if err != nil {
			return fmt.Errorf("charge: %w", err)
		}
		paymentID = pid
		return o.Pay(amountCents, pid)
	})
	if err != nil {
		return "", fmt.Errorf("pay order %d: %w", id, err)
	}
	return paymentID, nil
}
