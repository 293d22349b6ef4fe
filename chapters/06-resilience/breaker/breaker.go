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
	// TODO(06-breaker): nil, the caller's cancellation and 4xx answers (errors.As a StatusCoder) are not failures; everything else is.
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
	// TODO(06-breaker): open -> half-open once OpenFor has passed since openedAt (setState starts a new generation).
	return b.state
}

// setState moves to a new state and starts a new generation. Callers hold mu.
func (b *Breaker) setState(s State, now time.Time) {
	// TODO(06-breaker): set the state, start a new generation, reset the counters, and remember when it opened.
}

// Allow asks to make one call. If the call may go ahead, it returns done, which must be called exactly once with
// the call's result; otherwise it returns ErrOpen or ErrTooManyProbes and the downstream must not be called.
func (b *Breaker) Allow() (done func(err error), err error) {
	// TODO(06-breaker): reject while open (ErrOpen) or when Probes probes are in flight (ErrTooManyProbes); otherwise return a done bound to this generation.
	return nil, errors.New("TODO(06-breaker): Allow is not implemented")
}

func (b *Breaker) done(gen uint64, err error) {
	// TODO(06-breaker): ignore results from an older generation; count failures while closed, probes while half-open.
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
