package service

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

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
	// WithContext: the first error cancels gctx, so the calls still running give up at once instead of holding
	// the request until they finish. gctx is derived from the request's ctx, so a client that goes away (or a
	// deadline) cancels them too, and each call's span stays in the request's trace.
	g, gctx := errgroup.WithContext(ctx)
	// SetLimit: g.Go blocks while MaxPaymentCalls calls are running, so the payment service never sees more than
	// that from one request, however many orders the user has.
	g.SetLimit(MaxPaymentCalls)
	for i, o := range orders {
		g.Go(func() error {
			payments, err := s.Payments.List(gctx, o.ID)
			if err != nil {
				return fmt.Errorf("payments of order %d: %w", o.ID, err)
			}
			// Each goroutine writes its own index: no lock, and the answer keeps the orders' order whatever order
			// the calls finish in.
			out[i] = domain.OrderWithPayments{Order: o, Payments: payments}
			return nil
		})
	}
	// Wait returns the first error (the cause; the others are mostly "canceled"), after every goroutine ended.
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
