package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

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
//
// The breaker is github.com/sony/gobreaker/v2: a small, dependency-free, generic implementation of the
// classic closed / open / half-open machine whose settings name exactly what the lesson teaches (consecutive
// failures, open timeout, trial requests, which errors count). go-zero's core/breaker is adaptive (Google SRE
// throttling: it drops a share of calls by the recent failure ratio, with no fixed open window), which fits a
// go-zero service well but makes "no call while open, one trial after the timeout" a matter of probability.
func NewResilientPayments(next Payments, d Degrade) Payments {
	cb := gobreaker.NewCircuitBreaker[int64](gobreaker.Settings{
		Name:        "payment",
		MaxRequests: 1,             // half-open: one trial call decides
		Timeout:     d.BreakerOpen, // open -> half-open
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= d.BreakerFailures },
		// Only an outage is a failure of the payment service. A refusal is a healthy service saying no: if it
		// counted, a few bad requests would cut every customer off from paying.
		IsSuccessful: func(err error) bool { return !errors.Is(err, domain.ErrUnavailable) },
	})
	return &resilientPayments{next: next, budget: d.CallTimeout, cb: cb}
}

type resilientPayments struct {
	next   Payments
	budget time.Duration
	cb     *gobreaker.CircuitBreaker[int64]
}

func (p *resilientPayments) Charge(ctx context.Context, orderID, amountCents int64, key string) (int64, error) {
	id, err := p.cb.Execute(func() (int64, error) {
		// Derived from the request's ctx: the budget never outlives the request, and the trace goes along.
		ctx, cancel := context.WithTimeout(ctx, p.budget)
		defer cancel()
		return p.next.Charge(ctx, orderID, amountCents, key)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		// The breaker answered for the payment service, which heard nothing: as unavailable as it gets.
		return 0, fmt.Errorf("payment service: breaker %w: %w", err, domain.ErrUnavailable)
	}
	return id, err
}

// PayOrDefer is Pay, degraded: when the payment service is unavailable (down, too slow, or the breaker is
// open) it answers at once with the order still pending and payment id 0, and charges it in the background.
// Refusals (the order's own or the payment service's) and other failures are returned as Pay returns them.
func (s *Service) PayOrDefer(ctx context.Context, orderID, amountCents int64) (domain.Order, int64, error) {
	o, paymentID, err := s.Pay(ctx, orderID, amountCents)
	// Only an outage is degraded: a refusal would be refused again, and a failure of our own database after
	// the charge is not the payment service's.
	if s.Degrade == nil || !errors.Is(err, domain.ErrUnavailable) {
		return o, paymentID, err
	}
	// The order stays pending: it is not paid until the money is taken. Pay checked the amount already, so
	// the background attempt pays the order's total.
	s.Retries.Go(orderID, func(ctx context.Context) { s.settleLater(ctx, orderID) })
	o, err = s.Repo.Order(ctx, orderID)
	if err != nil {
		return domain.Order{}, 0, err
	}
	return o, 0, nil
}

// settleLater pays a deferred order in the background, until it is paid, refused, or ctx is done.
func (s *Service) settleLater(ctx context.Context, orderID int64) {
	t := time.NewTimer(s.Degrade.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		o, err := s.Repo.Order(ctx, orderID)
		if err == nil && o.Status != domain.StatusPending {
			return // paid meanwhile (the client's own retry): nothing left to do
		}
		if err == nil {
			// Pay again, the same way: PaymentKey is the order's, so if an earlier attempt took the money and
			// only its reply was lost, the payment service answers with that payment and charges nothing more.
			// MarkPaid's "WHERE status = pending" makes the paid status and OrderPaid happen once.
			_, _, err = s.Pay(ctx, orderID, o.TotalCents)
			if err == nil || errors.Is(err, domain.ErrNotPending) || errors.Is(err, domain.ErrPaymentRefused) {
				return // paid, paid by someone else, or refused: retrying changes nothing
			}
		}
		// Unavailable (the breaker keeps these cheap) or our own database failing: try again later.
		t.Reset(s.Degrade.RetryEvery)
	}
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

// List goes straight through: the breaker and the budget guard the charge, the step checkout degrades; the
// order history (11-slowspan) has budgets of its own.
func (p *resilientPayments) List(ctx context.Context, orderID int64) ([]domain.Payment, error) {
	return p.next.List(ctx, orderID)
}
