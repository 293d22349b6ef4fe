// Package shed is adaptive load shedding (自适应降载): a concurrency limit that follows latency.
//
// A service has a capacity it cannot know in advance (it changes with the machine, the data, the neighbours).
// Past it, extra requests only queue, and every request gets slower together. The limiter learns the capacity
// from latency, AIMD style, as TCP does with its congestion window: while requests finish within Target it raises
// the limit slowly (+1 per limit completions), and when one takes longer it cuts the limit at once (×Backoff).
// Requests above the limit are rejected immediately: excess fails fast, admitted requests keep their latency.
package shed

import (
	"errors"
	"sync"
	"time"
)

// ErrOverloaded rejects a request the service cannot take now. Answer 503 (or 429) at once, with Retry-After.
var ErrOverloaded = errors.New("shed: overloaded")

// Config tunes a Limiter.
type Config struct {
	Target   time.Duration    // the latency admitted requests should keep
	Min, Max int              // bounds of the limit; Min >= 1 keeps the service reachable
	Initial  int              // the limit to start with
	Backoff  float64          // multiplicative decrease on a slow request, e.g. 0.75
	Now      func() time.Time // nil means time.Now
}

// Limiter is a latency-driven concurrency limit. It is safe for concurrent use.
type Limiter struct {
	cfg      Config
	mu       sync.Mutex
	limit    float64
	inflight int
}

// New returns a Limiter at cfg.Initial.
func New(cfg Config) *Limiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, limit: float64(cfg.Initial)}
}

// Limit is the current limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// Inflight is the number of admitted requests not done yet.
func (l *Limiter) Inflight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight
}

// Allow admits a request, or returns ErrOverloaded at once when the limit is reached. done must be called once
// when the admitted request has finished.
func (l *Limiter) Allow() (done func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight >= int(l.limit) {
		return nil, ErrOverloaded // never queue: a queue is where latency comes from
	}
	l.inflight++
	start := l.cfg.Now()
	return func() { l.done(l.cfg.Now().Sub(start)) }, nil
}

func (l *Limiter) done(rtt time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if rtt > l.cfg.Target {
		l.limit = max(float64(l.cfg.Min), l.limit*l.cfg.Backoff) // too slow: we are past capacity, back off fast
		return
	}
	l.limit = min(float64(l.cfg.Max), l.limit+1/l.limit) // on time: probe for more, about +1 per round trip
}
