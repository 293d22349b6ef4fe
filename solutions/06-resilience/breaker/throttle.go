package breaker

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrThrottled rejects a call locally: the adaptive throttle predicted that the downstream would refuse it.
var ErrThrottled = errors.New("breaker: throttled")

// ThrottleConfig tunes a Throttle.
type ThrottleConfig struct {
	K       float64          // how many requests per accepted one the client may send; the SRE book uses 2
	Window  time.Duration    // how much history counts
	Buckets int              // the window is kept as this many time buckets, so old history leaves gradually
	Now     func() time.Time // nil means time.Now
	Rand    func() float64   // uniform in [0, 1); nil means math/rand/v2.Float64
}

// Throttle is client-side adaptive throttling from Google's SRE book ("Handling Overload"), the algorithm behind
// go-zero's default breaker. It has no states: over the last Window it counts requests (every call the client
// wanted to make, rejected ones included) and accepts (calls the downstream handled), and rejects a new call
// locally with probability
//
//	max(0, (requests - K*accepts) / (requests + 1))
//
// While the downstream accepts at least 1/K of the calls, nothing is rejected. As it fails, more and more calls
// are rejected without being sent, but never all of them: the ones that still go through find out when it is back.
type Throttle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	buckets []tbucket
}

type tbucket struct {
	epoch             int64 // which bucket-length slice of time this bucket holds
	requests, accepts float64
}

// NewThrottle returns a Throttle with an empty history.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Throttle{cfg: cfg, buckets: make([]tbucket, cfg.Buckets)}
}

func (t *Throttle) epoch(now time.Time) int64 {
	return now.UnixNano() / int64(t.cfg.Window/time.Duration(t.cfg.Buckets))
}

// bucket returns the bucket for now, emptied if it still held an older slice of time. Callers hold mu.
func (t *Throttle) bucket(now time.Time) *tbucket {
	e := t.epoch(now)
	b := &t.buckets[e%int64(len(t.buckets))]
	if b.epoch != e {
		*b = tbucket{epoch: e}
	}
	return b
}

// probability computes the rejection probability from the buckets still inside the window. Callers hold mu.
func (t *Throttle) probability(now time.Time) float64 {
	e := t.epoch(now)
	var requests, accepts float64
	for _, b := range t.buckets {
		if b.epoch > e-int64(len(t.buckets)) && b.epoch <= e {
			requests += b.requests
			accepts += b.accepts
		}
	}
	return max(0, (requests-t.cfg.K*accepts)/(requests+1))
}

// RejectProbability is the probability with which the next call would be rejected.
func (t *Throttle) RejectProbability() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probability(t.cfg.Now())
}

// Allow counts a request and decides, from the history before it, whether to send it. If it may go ahead, done
// must be called once with whether the downstream accepted it; otherwise the error is ErrThrottled.
func (t *Throttle) Allow() (done func(accepted bool), err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	p := t.probability(now)
	// A rejected request is still a request: that is what drives p towards 1.
	t.bucket(now).requests++
	if t.cfg.Rand() < p { // p = 0 never rejects, since Rand is in [0, 1)
		return nil, ErrThrottled
	}
	return func(accepted bool) {
		if !accepted {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.bucket(t.cfg.Now()).accepts++
	}, nil
}

// Do runs fn through the throttle; a result that IsFailure does not count as a failure is an accept.
func (t *Throttle) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	done, err := t.Allow()
	if err != nil {
		return err
	}
	err = fn(ctx)
	done(!IsFailure(err))
	return err
}
