package app

import (
	"context"
	"errors"
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
func (s *Service) PayOrder(ctx context.Context, id, amountCents int64) (paymentID string, err error) {
	// TODO(02-service): use s.orders.UpdateOrder and do the work inside its closure:
	//   - ask the aggregate first (o.CanPay): an order that cannot be paid must never be charged;
	//   - charge with s.payments.Charge; if that fails, return the error so nothing is stored;
	//   - then o.Pay(amountCents, paymentID).
	// Charging before or outside UpdateOrder lets two concurrent payments both charge the customer.
	return "", errors.New("TODO(02-service): PayOrder is not implemented")
}
