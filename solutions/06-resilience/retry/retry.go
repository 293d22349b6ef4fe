// Package retry retries a failed call the way a well-behaved client does: only errors worth retrying, with
// exponential backoff and full jitter, never past the caller's deadline, and only while a retry budget lasts.
//
// The budget is gRPC's retry throttling: a token bucket that every failure drains and every success refills a
// little. Retries stop when it is half empty, so during an outage the client sends about one call per request
// instead of Attempts calls: retries cannot multiply the load on a service that is already down (a retry storm).
package retry

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy says how Do retries.
type Policy struct {
	Attempts  int              // total attempts, the first one included; 1 or less means no retry
	Base, Cap time.Duration    // the backoff before retry n (from 0) is drawn from [0, min(Cap, Base*2^n))
	Retryable func(error) bool // which errors are worth another attempt; nil retries nothing
	Budget    *Budget          // shared by every call to one downstream service; nil means no budget

	// Injected for tests; nil means the real thing.
	Rand  func() float64                                   // uniform in [0, 1)
	Now   func() time.Time                                 // the clock the caller's deadline is compared with
	Sleep func(ctx context.Context, d time.Duration) error // waits d, or returns ctx.Err() when ctx is done first
}

// Backoff is the wait before retry number retry (0 for the first retry): full jitter, r * min(cap, base * 2^retry),
// with r uniform in [0, 1). The random spread keeps clients that failed together from retrying together.
func Backoff(base, cap time.Duration, retry int, r float64) time.Duration {
	// base<<retry overflows int64 for a large retry (to a negative number, or to 0). In float64 the doubling cannot
	// wrap: at worst it is +Inf, and min then takes cap.
	ceil := min(float64(cap), math.Ldexp(float64(base), retry))
	return time.Duration(r * ceil)
}

// Do calls op, and calls it again after a backoff while its error is retryable, attempts remain, the budget
// allows, the caller is still waiting and the backoff ends before the caller's deadline. It returns nil or the
// last error op returned.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error) error {
	rnd, now, sleep := p.Rand, p.Now, p.Sleep
	if rnd == nil {
		rnd = rand.Float64
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			if p.Budget != nil {
				p.Budget.OnSuccess()
			}
			return nil
		}
		if p.Retryable == nil || !p.Retryable(err) {
			return err // a 4xx or a validation error fails the same way every time
		}
		if p.Budget != nil {
			p.Budget.OnFailure()
		}
		if attempt >= p.Attempts || ctx.Err() != nil {
			return err
		}
		if p.Budget != nil && !p.Budget.AllowRetry() {
			return err // the downstream is failing for everyone: do not pile on
		}
		d := Backoff(p.Base, p.Cap, attempt-1, rnd())
		if deadline, ok := ctx.Deadline(); ok && !now().Add(d).Before(deadline) {
			return err // we would wake up after the caller gave up: fail now, with the real error
		}
		if sleep(ctx, d) != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Budget is a retry budget (gRPC retry throttling): a bucket of up to max tokens, full at the start. Each failure
// takes one token, each success gives back ratio. Retries are allowed only while more than half the tokens remain.
type Budget struct {
	mu     sync.Mutex
	tokens float64
	max    float64
	ratio  float64
}

// NewBudget returns a full budget. gRPC's defaults are maxTokens 10 and ratio 0.1.
func NewBudget(maxTokens, ratio float64) *Budget {
	return &Budget{tokens: maxTokens, max: maxTokens, ratio: ratio}
}

// Tokens is the current number of tokens.
func (b *Budget) Tokens() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens
}

// OnSuccess records a successful call: ratio tokens back, up to max.
func (b *Budget) OnSuccess() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.max, b.tokens+b.ratio)
}

// OnFailure records a failed call: one token less, down to 0.
func (b *Budget) OnFailure() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(0, b.tokens-1)
}

// AllowRetry reports whether a retry may be sent now: more than half of max is left.
func (b *Budget) AllowRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}
