package service

import (
	"context"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
)

// maxHistory is how many orders one history holds (the oldest first).
const maxHistory = 100

// MaxPaymentCalls bounds the ListPayments calls one history request has in flight at once: enough to hide the
// latency of a few round trips, few enough that one user with 100 orders cannot flood the payment service.
const MaxPaymentCalls = 4

// OrdersOfUser returns a user's orders, oldest first, each with its payments from the payment service. It is all
// or nothing: when the payments of one order cannot be read, it fails, and the client never sees a partial list.
func (s *Service) OrdersOfUser(ctx context.Context, userID int64) ([]domain.OrderWithPayments, error) {
	if userID <= 0 {
		return nil, fmt.Errorf("%w: a user_id", domain.ErrInvalid)
	}
	orders, err := s.Repo.OrdersOfUser(ctx, userID, maxHistory)
	if err != nil {
		return nil, err
	}
	out := make([]domain.OrderWithPayments, len(orders))
	// TODO(11-slowspan): this loop makes one ListPayments round trip per order, one after the other: with 20
	// orders and 20 ms per call the request takes 400 ms, and its trace shows 20 ListPayments spans in a row.
	// Make the calls concurrently, at most MaxPaymentCalls in flight, each result at its order's index; the
	// first error fails the request (wrapped with %w) and cancels the calls still running, and a client that
	// goes away cancels them all.
	for i, o := range orders {
		payments, err := s.Payments.List(ctx, o.ID)
		if err != nil {
			return nil, fmt.Errorf("payments of order %d: %w", o.ID, err)
		}
		out[i] = domain.OrderWithPayments{Order: o, Payments: payments}
	}
	return out, nil
}
