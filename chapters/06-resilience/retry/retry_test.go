package retry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/retry"
)

var (
	errUnavailable = errors.New("payments: unavailable")   // worth another attempt
	errDeclined    = errors.New("payments: card declined") // fails the same way every time
)

func retryable(err error) bool { return errors.Is(err, errUnavailable) }

// fakeClock is the injected clock: Sleep records the wait and moves Now forward, at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

// rands returns the given values in turn, then the last one for ever.
func rands(vs ...float64) func() float64 {
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := vs[0]
		if len(vs) > 1 {
			vs = vs[1:]
		}
		return v
	}
}

func TestRetryBackoff(t *testing.T) {
	const base, cap = 10 * time.Millisecond, time.Second
	for _, tc := range []struct {
		retry int
		r     float64
		want  time.Duration
		why   string
	}{
		{0, 0.5, 5 * time.Millisecond, "half of base"},
		{3, 0.5, 40 * time.Millisecond, "half of base*2^3"},
		{3, 0.999, 79_920 * time.Microsecond, "almost all of base*2^3"},
		{3, 0, 0, "full jitter may retry at once: the wait is drawn from [0, ceiling)"},
		{7, 0.5, 500 * time.Millisecond, "base*2^7 = 1.28s is above cap: half of cap"},
		{40, 0.5, 500 * time.Millisecond, "10ms*2^40 does not fit in an int64: shifted, it wraps to a negative number"},
		{60, 0.5, 500 * time.Millisecond, "10ms*2^60 does not fit in an int64: shifted, it wraps to 0"},
		{62, 0.5, 500 * time.Millisecond, "a huge retry number must not overflow into a negative or tiny wait"},
		{100, 0.25, 250 * time.Millisecond, "a huge retry number must not overflow into a negative or tiny wait"},
	} {
		got := retry.Backoff(base, cap, tc.retry, tc.r)
		require.Equal(t, tc.want, got, "Backoff(10ms, 1s, retry %d, r %v) = %v, want %v: %s", tc.retry, tc.r, got, tc.want, tc.why)
	}
}

func TestRetryDo(t *testing.T) {
	start := time.Now()
	policy := func(c *fakeClock) retry.Policy {
		return retry.Policy{Attempts: 4, Base: 10 * time.Millisecond, Cap: time.Second, Retryable: retryable,
			Rand: rands(0.5, 0.25, 0.75), Now: c.Now, Sleep: c.Sleep}
	}
	t.Run("retries a transient error with jittered backoff", func(t *testing.T) {
		c := &fakeClock{now: start}
		calls := 0
		err := retry.Do(context.Background(), policy(c), func(context.Context) error {
			if calls++; calls < 3 {
				return errUnavailable
			}
			return nil
		})
		require.NoError(t, err, "Do(fails twice, then succeeds)")
		require.Equal(t, 3, calls, "Do(fails twice, then succeeds): calls = %d, want 3", calls)
		want := []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}
		require.Equal(t, want, c.sleeps, "Do: waits = %v, want %v: Backoff(retry 0, r 0.5) then Backoff(retry 1, r 0.25), one Rand draw per wait", c.sleeps, want)
	})
	t.Run("gives up after Attempts with the last error", func(t *testing.T) {
		c := &fakeClock{now: start}
		calls := 0
		err := retry.Do(context.Background(), policy(c), func(context.Context) error {
			if calls++; calls > 20 {
				return errDeclined // a Do that never gives up would loop for ever: stop it, and let the count say why
			}
			return errUnavailable
		})
		require.Equal(t, 4, calls, "Do(always unavailable, Attempts 4): calls = %d, want 4 (Attempts counts the first call)", calls)
		require.ErrorIs(t, err, errUnavailable, "Do(always unavailable) = %v, want the op's own error", err)
		require.Len(t, c.sleeps, 3, "Do(Attempts 4): waits = %v, want 3: no wait after the last attempt", c.sleeps)
	})
	t.Run("never retries a non-retryable error", func(t *testing.T) {
		c := &fakeClock{now: start}
		calls := 0
		err := retry.Do(context.Background(), policy(c), func(context.Context) error { calls++; return errDeclined })
		require.ErrorIs(t, err, errDeclined)
		require.Equal(t, 1, calls, "Do(card declined): calls = %d, want 1: a declined card is declined again; retrying only adds load", calls)
		require.Empty(t, c.sleeps, "Do(card declined) waited %v, want no wait", c.sleeps)
	})
	t.Run("stops when the caller gives up", func(t *testing.T) {
		c := &fakeClock{now: start}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		err := retry.Do(ctx, policy(c), func(context.Context) error { calls++; cancel(); return errUnavailable })
		require.ErrorIs(t, err, errUnavailable)
		require.Equal(t, 1, calls, "Do(caller cancels during the first call): calls = %d, want 1: nobody is waiting for the answer", calls)
	})
	t.Run("stays inside the caller's deadline", func(t *testing.T) {
		// The caller's deadline is 100ms after the fake clock's now. Waits are ~20ms, ~40ms, ~80ms...:
		// the third would end after the deadline, so Do must return at once after the third call.
		deadline := start.Add(time.Hour)
		c := &fakeClock{now: deadline.Add(-100 * time.Millisecond)}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		p := retry.Policy{Attempts: 10, Base: 20 * time.Millisecond, Cap: time.Second, Retryable: retryable,
			Rand: rands(0.999), Now: c.Now, Sleep: c.Sleep}
		calls := 0
		err := retry.Do(ctx, p, func(context.Context) error { calls++; return errUnavailable })
		require.ErrorIs(t, err, errUnavailable, "Do(past the deadline) = %v, want the op's own error, the useful one", err)
		require.False(t, c.Now().After(deadline), "Do slept until %v past the caller's deadline (waits %v): a retry nobody waits for is pure load",
			c.Now().Sub(deadline), c.sleeps)
		require.Equal(t, 3, calls, "Do(100ms left, waits ~20ms, ~40ms, ~80ms): calls = %d, want 3: give up as soon as the next wait would end past the deadline", calls)
	})
	t.Run("a real wait ends when the caller gives up", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := retry.Policy{Attempts: 3, Base: 10 * time.Second, Cap: time.Minute, Retryable: retryable, Rand: rands(0.999)}
		done := make(chan error, 1)
		calls := atomic.Int32{}
		go func() {
			done <- retry.Do(ctx, p, func(context.Context) error { calls.Add(1); return errUnavailable })
		}()
		require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond, "Do did not make its first call")
		cancel()
		select {
		case err := <-done:
			require.ErrorIs(t, err, errUnavailable)
			require.EqualValues(t, 1, calls.Load(), "Do retried after the caller cancelled its wait")
		case <-time.After(3 * time.Second):
			t.Fatal("Do still waiting 3s after the caller cancelled during a 10s backoff: the default Sleep must return when ctx is done")
		}
	})
}

func TestRetryBudget(t *testing.T) {
	b := retry.NewBudget(10, 0.1)
	require.True(t, b.AllowRetry(), "NewBudget(10, 0.1).AllowRetry() = false, want true: a new budget is full")
	for range 4 {
		b.OnFailure()
	}
	require.InDelta(t, 6, b.Tokens(), 1e-9, "tokens after 4 failures = %v, want 6", b.Tokens())
	require.True(t, b.AllowRetry(), "AllowRetry() with 6 of 10 tokens = false, want true")
	b.OnFailure()
	require.False(t, b.AllowRetry(), "AllowRetry() with 5 of 10 tokens = true, want false: retries need more than half the tokens")
	for range 20 {
		b.OnFailure()
	}
	require.InDelta(t, 0, b.Tokens(), 1e-9, "tokens after many failures = %v, want 0: the bucket does not go negative (or recovery would take for ever)", b.Tokens())
	for range 51 {
		b.OnSuccess()
	}
	require.InDelta(t, 5.1, b.Tokens(), 1e-9, "tokens after 51 successes from 0 = %v, want 5.1: each success gives back 0.1", b.Tokens())
	require.True(t, b.AllowRetry(), "AllowRetry() with 5.1 of 10 tokens = false, want true")
	for range 1000 {
		b.OnSuccess()
	}
	require.InDelta(t, 10, b.Tokens(), 1e-9, "tokens after 1000 successes = %v, want 10: the bucket is capped at max", b.Tokens())
}

// TestRetryBudgetAccounting follows one call at a time through Do and reads the budget after it: every retryable
// failure (each attempt, not each call) takes a token, a success gives ratio back, and an error that is not worth
// retrying says nothing about the downstream's health, so it leaves the budget alone.
func TestRetryBudgetAccounting(t *testing.T) {
	tests := []struct {
		name   string
		errs   []error // what op returns on each attempt; nil after the list ends
		tokens float64
		why    string
	}{
		{"three retryable failures", []error{errUnavailable, errUnavailable, errUnavailable}, 7,
			"each failed attempt takes one token, and a failure never gives one back"},
		{"fails once then succeeds", []error{errUnavailable}, 9.1, "the failure takes 1, the success gives back 0.1"},
		{"not retryable", []error{errDeclined}, 10, "a declined card is the caller's problem, not a sign the downstream is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget := retry.NewBudget(10, 0.1)
			c := &fakeClock{now: time.Now()}
			p := retry.Policy{Attempts: 3, Base: time.Millisecond, Cap: 10 * time.Millisecond, Retryable: retryable,
				Budget: budget, Rand: rands(0.5), Now: c.Now, Sleep: c.Sleep}
			attempt := 0
			_ = retry.Do(context.Background(), p, func(context.Context) error {
				defer func() { attempt++ }()
				if attempt < len(tt.errs) {
					return tt.errs[attempt]
				}
				return nil
			})
			require.InDelta(t, tt.tokens, budget.Tokens(), 1e-9, "%s: budget tokens after Do = %v, want %v: %s",
				tt.name, budget.Tokens(), tt.tokens, tt.why)
		})
	}
}

// TestRetryBudgetOutage counts what reaches payments during an outage: with 3 attempts per request and no budget,
// 200 requests would send 600 calls, tripling the load on a service that is down. With a budget of 10 tokens, only
// the first few requests retry. 8 clients share the budget concurrently.
func TestRetryBudgetOutage(t *testing.T) {
	const requests, workers = 200, 8
	budget := retry.NewBudget(10, 0.1)
	c := &fakeClock{now: time.Now()}
	p := retry.Policy{Attempts: 3, Base: time.Millisecond, Cap: 10 * time.Millisecond, Retryable: retryable, Budget: budget,
		Rand: rands(0.5), Now: c.Now, Sleep: c.Sleep}
	var down atomic.Bool
	var calls atomic.Int64
	op := func(context.Context) error {
		calls.Add(1)
		if down.Load() {
			return errUnavailable
		}
		return nil
	}
	run := func(n int) {
		var wg sync.WaitGroup
		jobs := make(chan struct{})
		for range workers {
			wg.Go(func() {
				for range jobs {
					_ = retry.Do(context.Background(), p, op)
				}
			})
		}
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		wg.Wait()
	}

	down.Store(true)
	run(requests)
	// 5 tokens can be spent on retries before the budget is half empty; 8 concurrent clients may each have decided
	// to retry just before it got there, hence the slack of 8.
	require.LessOrEqual(t, calls.Load(), int64(requests+5+workers),
		"outage: %d requests sent %d calls, want <= %d: retries must stop once the budget is half spent (retry storm)", requests, calls.Load(), requests+5+workers)
	require.GreaterOrEqual(t, calls.Load(), int64(requests+3), "outage: %d requests sent %d calls, want some retries while the budget lasts", requests, calls.Load())

	down.Store(false)
	run(100) // recovery refills the budget: 100 successes * 0.1
	calls.Store(0)
	flaky := 0
	err := retry.Do(context.Background(), p, func(context.Context) error {
		calls.Add(1)
		if flaky++; flaky == 1 {
			return errUnavailable
		}
		return nil
	})
	require.NoError(t, err, "after recovery, Do(fails once) = %v, want success on retry: successes refill the budget", err)
	require.EqualValues(t, 2, calls.Load())
}
