// Package ratelimit holds the four classic rate-limiting algorithms (限流算法), each with the flaw that the next
// one fixes, and a token bucket shared through Redis. Time is always passed in (now), so tests control it.
package ratelimit

import (
	"sync"
	"time"
)

// FixedWindow allows Limit requests per Window, in windows aligned to the clock (for a 1s window: each second).
// Cheap (one counter), but not smooth: Limit requests at the end of one window and Limit more at the start of the
// next pass within a moment: 2*Limit in a blink.
type FixedWindow struct {
	Limit  int
	Window time.Duration

	mu    sync.Mutex
	start time.Time // the current window's start
	count int
}

// Allow reports whether a request at now may pass.
func (l *FixedWindow) Allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if start := now.Truncate(l.Window); !start.Equal(l.start) {
		l.start, l.count = start, 0
	}
	if l.count >= l.Limit {
		return false
	}
	l.count++
	return true
}

// SlidingWindow allows at most Limit requests in any interval (now-Window, now]: a sliding log of the times of the
// requests it let through. Exact, and no boundary burst, but memory grows with Limit.
type SlidingWindow struct {
	Limit  int
	Window time.Duration

	mu  sync.Mutex
	log []time.Time // times of allowed requests, oldest first
}

// Allow reports whether a request at now may pass.
func (l *SlidingWindow) Allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := 0
	for cut < len(l.log) && !l.log[cut].After(now.Add(-l.Window)) {
		cut++ // at or before now-Window: out of the window
	}
	l.log = l.log[cut:]
	if len(l.log) >= l.Limit {
		return false // a rejected request is not logged: it used nothing
	}
	l.log = append(l.log, now)
	return true
}

// TokenBucket refills Rate tokens per second up to Burst; a request takes one. It allows bursts up to Burst after a
// quiet period (often what you want: x/time/rate and most gateways use it), but that burst reaches the downstream at once.
type TokenBucket struct {
	Rate  float64 // tokens per second
	Burst float64 // bucket size; the bucket starts full

	mu     sync.Mutex
	tokens float64
	last   time.Time
	init   bool
}

// Allow reports whether a request at now may pass.
func (b *TokenBucket) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		b.tokens, b.last, b.init = b.Burst, now, true
	}
	if now.After(b.last) {
		// Fractions of a token are kept: refilling only whole tokens would lose time at every call.
		b.tokens = min(b.Burst, b.tokens+now.Sub(b.last).Seconds()*b.Rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// LeakyBucket lets requests out at a constant pace, one per Interval, and queues up to Capacity of them: the
// downstream sees a perfectly smooth flow (削峰), but a burst waits even when the downstream is idle.
type LeakyBucket struct {
	Interval time.Duration
	Capacity int // requests that may wait in the bucket

	mu   sync.Mutex
	next time.Time // when the next request may leave
}

// Reserve returns how long a request arriving at now must wait before it is sent, or false when the bucket is
// full (the wait would exceed Capacity intervals). A rejected request reserves nothing.
func (b *LeakyBucket) Reserve(now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	at := b.next
	if at.Before(now) {
		at = now // an idle bucket does not save up: no credit for the quiet time
	}
	wait := at.Sub(now)
	if wait > time.Duration(b.Capacity)*b.Interval {
		return 0, false
	}
	b.next = at.Add(b.Interval)
	return wait, true
}
