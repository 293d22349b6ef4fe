// Package breaker is a circuit breaker (熔断器): after enough consecutive failures it stops calling a downstream
// service for a while, then lets a few probes through to find out whether it recovered.
//
//	closed --(Threshold consecutive failures)--> open --(OpenFor elapsed)--> half-open
//	half-open --(Probes successes)--> closed;  half-open --(any failure)--> open
//
// Every change of state starts a new generation. A call reports its result to the generation it started in, so
// a slow call that started before the breaker opened cannot close it (or open it again) when it ends.
package breaker

import (
	"context"
	"errors"
	"sync"
	"time"
)

// State is the breaker's state.
type State int

const (
	Closed   State = iota // calls go through; failures are counted
	Open                  // calls are rejected at once with ErrOpen
	HalfOpen              // at most Probes calls go through to test the downstream
)

func (s State) String() string { return [...]string{"closed", "open", "half-open"}[s] }

var (
	// ErrOpen rejects a call while the breaker is open: the downstream is not called.
	ErrOpen = errors.New("breaker: open")
	// ErrTooManyProbes rejects a call while half-open when Probes calls are already in flight.
	ErrTooManyProbes = errors.New("breaker: half-open, too many probes")
)

// Config tunes a Breaker.
type Config struct {
	Threshold int              // consecutive failures that open the breaker
	OpenFor   time.Duration    // how long it stays open before probing
	Probes    int              // half-open: calls allowed in flight, and successes needed to close
	Now       func() time.Time // the clock; nil means time.Now
}

// StatusCoder is an error that carries an HTTP status (shop.StatusError does).
type StatusCoder interface{ StatusCode() int }

// Breaker is a circuit breaker. It is safe for concurrent use.
type Breaker struct {
	cfg Config

	mu         sync.Mutex
	state      State
	generation uint64
	failures   int       // consecutive failures while closed
	openedAt   time.Time // when it last opened
	inflight   int       // probes in flight while half-open
	successes  int       // probe successes while half-open
}

// New returns a closed breaker.
func New(cfg Config) *Breaker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Breaker{cfg: cfg}
}

// IsFailure says whether err counts against the downstream. A success (nil), a 4xx answer (the caller's fault:
// the downstream answered correctly) and the caller's own cancellation say nothing about the downstream's health.
// A timeout (context.DeadlineExceeded) does count: a downstream too slow to answer is failing.
func IsFailure(err error) bool {
	var sc StatusCoder
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &sc) && sc.StatusCode() >= 400 && sc.StatusCode() < 500:
		return false
	}
	return true
}

// State returns the current state, moving from open to half-open when OpenFor has elapsed.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current(b.cfg.Now())
}

// current applies the only transition that time alone causes. Callers hold mu.
func (b *Breaker) current(now time.Time) State {
	if b.state == Open && !now.Before(b.openedAt.Add(b.cfg.OpenFor)) {
		b.setState(HalfOpen, now)
	}
	return b.state
}

// setState moves to a new state and starts a new generation. Callers hold mu.
func (b *Breaker) setState(s State, now time.Time) {
	b.state = s
	b.generation++
	b.failures, b.inflight, b.successes = 0, 0, 0
	if s == Open {
		b.openedAt = now
	}
}

// Allow asks to make one call. If the call may go ahead, it returns done, which must be called exactly once with
// the call's result; otherwise it returns ErrOpen or ErrTooManyProbes and the downstream must not be called.
func (b *Breaker) Allow() (done func(err error), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.current(b.cfg.Now()) {
	case Open:
		return nil, ErrOpen
	case HalfOpen:
		if b.inflight >= b.cfg.Probes {
			return nil, ErrTooManyProbes
		}
		b.inflight++
	}
	gen := b.generation
	return func(err error) { b.done(gen, err) }, nil
}

func (b *Breaker) done(gen uint64, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	if b.current(now); gen != b.generation {
		return // the call started under an older state: its result is about a world that has moved on
	}
	failed := IsFailure(err) // a 4xx or a cancellation is treated like a success: the downstream did its job
	switch b.state {
	case Closed:
		if !failed {
			b.failures = 0
			return
		}
		if b.failures++; b.failures >= b.cfg.Threshold {
			b.setState(Open, now)
		}
	case HalfOpen:
		b.inflight--
		if failed {
			b.setState(Open, now) // one failed probe is enough: back off for another OpenFor
			return
		}
		if b.successes++; b.successes >= b.cfg.Probes {
			b.setState(Closed, now)
		}
	}
}

// Do runs fn through the breaker.
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	done, err := b.Allow()
	if err != nil {
		return err
	}
	err = fn(ctx)
	done(err)
	return err
}
