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
	// TODO(06-limiters): count requests in the window now falls in (now.Truncate(Window)); start a new count when the window changes.
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
	// TODO(06-limiters): drop log entries at or before now-Window, then allow (and log now) only if fewer than Limit remain.
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
	// TODO(06-limiters): start full; refill (now-last)*Rate tokens, keeping fractions, capped at Burst; take one if there is one.
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
	// TODO(06-limiters): schedule the request at max(now, next); reject if that is more than Capacity intervals away; else move next on by Interval.
	return 0, true
}
