package service

import (
	"context"
	"sync"
	"time"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
)

// Degrade says how checkout degrades (降级) when the payment service fails: instead of failing the
// request, the order service takes the payment on, answers "accepted, still pending", and charges later.
type Degrade struct {
	CallTimeout     time.Duration // the budget of one Charge, within the caller's own deadline
	BreakerFailures uint32        // consecutive outages of the payment service that open the breaker (熔断)
	BreakerOpen     time.Duration // how long an open breaker refuses calls before it lets one trial call through
	RetryEvery      time.Duration // the pause before each background attempt of a deferred payment
}

// NewResilientPayments returns next behind a per-call budget and a circuit breaker.
func NewResilientPayments(next Payments, d Degrade) Payments {
	// TODO(11-degrade): wrap next. Each Charge gets a deadline of d.CallTimeout derived from the caller's ctx,
	// and runs inside a circuit breaker (github.com/sony/gobreaker/v2 is in go.mod) that opens after
	// d.BreakerFailures consecutive outages (domain.ErrUnavailable; a refusal is an answer, not an outage),
	// stays open for d.BreakerOpen, then lets one trial call through. While it is open, Charge fails at once
	// with an error that wraps domain.ErrUnavailable, and next is not called.
	return next
}

// PayOrDefer is Pay, degraded: when the payment service is unavailable (down, too slow, or the breaker is
// open) it answers at once with the order still pending and payment id 0, and charges it in the background.
// Refusals (the order's own or the payment service's) and other failures are returned as Pay returns them.
func (s *Service) PayOrDefer(ctx context.Context, orderID, amountCents int64) (domain.Order, int64, error) {
	// TODO(11-degrade): when s.Degrade is set and Pay failed with domain.ErrUnavailable, start the order's
	// background payment (s.Retries.Go with s.settleLater) and answer with the order as it is now (pending).
	return s.Pay(ctx, orderID, amountCents)
}

// settleLater pays a deferred order in the background, until it is paid, refused, or ctx is done.
func (s *Service) settleLater(ctx context.Context, orderID int64) {
	// TODO(11-degrade): every s.Degrade.RetryEvery, pay the order's total with the SAME idempotency key as
	// the first attempt (PaymentKey), marking it paid and enqueueing OrderPaid once, only after the charge
	// succeeded. Keep trying while the payment service is unavailable; stop when the order is not pending
	// any more, or when the payment service refused.
}

// Retries runs the background payments of deferred orders, at most one per order, until Stop.
type Retries struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]bool
}

// NewRetries returns a Retries ready to run.
func NewRetries() *Retries {
	ctx, cancel := context.WithCancel(context.Background())
	return &Retries{ctx: ctx, cancel: cancel, active: map[int64]bool{}}
}

// Go runs fn for orderID in the background, unless fn already runs for that order (a client that pays twice
// during an outage starts one retry loop, not two).
func (r *Retries) Go(orderID int64, fn func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[orderID] || r.ctx.Err() != nil {
		return
	}
	r.active[orderID] = true
	r.wg.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.active, orderID)
			r.mu.Unlock()
		}()
		fn(r.ctx)
	})
}

// Stop ends every background payment and waits for them. A payment still deferred stays pending in the
// database; the client may pay again (the same key charges at most once).
func (r *Retries) Stop() {
	r.mu.Lock() // no Go starts a loop after this
	r.cancel()
	r.mu.Unlock()
	r.wg.Wait()
}
