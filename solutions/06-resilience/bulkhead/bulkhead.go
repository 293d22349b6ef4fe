// Package bulkhead isolates the order path from a slow payment service (舱壁隔离) and degrades it (降级) instead of
// letting it fail or wait: when payments cannot answer within the order's budget, the order is accepted as
// "pending_payment" and a background job charges it later. A declined card is not degraded: it is an answer.
package bulkhead

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gomicrolab/microlab/chapters/06-resilience/shop"
)

// ErrFull rejects a call when every slot of the bulkhead is taken: fail fast, do not queue.
var ErrFull = errors.New("bulkhead: full")

// Bulkhead bounds the calls in flight to one downstream: semaphore isolation, as in Hystrix's SEMAPHORE mode.
// Whatever payments do, they can hold at most its size of the service's goroutines and connections.
type Bulkhead struct{ slots chan struct{} }

// New returns a bulkhead with n slots.
func New(n int) *Bulkhead { return &Bulkhead{slots: make(chan struct{}, n)} }

// InUse is the number of slots taken now.
func (b *Bulkhead) InUse() int { return len(b.slots) }

// Do runs fn if a slot is free at once, and returns ErrFull otherwise without calling fn.
func (b *Bulkhead) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	select {
	case b.slots <- struct{}{}:
	default:
		return ErrFull // waiting for a slot would only move the queue from payments to us
	}
	defer func() { <-b.slots }()
	return fn(ctx)
}

// Payer pays for orders through a bulkhead, within a budget, with a fallback.
type Payer struct {
	Charge   func(ctx context.Context, cents int64) error // the payment call; it honours ctx
	Bulkhead *Bulkhead
	Budget   time.Duration // the most an order waits for payments

	deferred atomic.Int64
}

// Deferred is how many orders took the fallback: accepted as pending, to be charged later.
func (p *Payer) Deferred() int64 { return p.deferred.Load() }

// Pay charges cents and returns shop.StatusPaid, or shop.StatusPending when payments are slow, down or busy.
// A 4xx from payments is returned as it is (a declined card is an answer), and so is the caller's own cancellation.
func (p *Payer) Pay(ctx context.Context, cents int64) (string, error) {
	// The budget bounds the call itself: when it ends, the call is cancelled, so no goroutine keeps waiting.
	cctx, cancel := context.WithTimeout(ctx, p.Budget)
	defer cancel()
	err := p.Bulkhead.Do(cctx, func(ctx context.Context) error { return p.Charge(ctx, cents) })
	var se *shop.StatusError
	switch {
	case err == nil:
		return shop.StatusPaid, nil
	case errors.As(err, &se) && se.Code/100 == 4:
		return "", err
	case ctx.Err() != nil:
		return "", ctx.Err() // the client left: nobody to degrade for
	}
	p.deferred.Add(1) // in the real service: insert into the pending-payments table in the order's transaction
	return shop.StatusPending, nil
}
