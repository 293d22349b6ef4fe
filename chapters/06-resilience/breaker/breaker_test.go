package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/breaker"
	"github.com/gomicrolab/microlab/chapters/06-resilience/shop"
)

var errDown = errors.New("payments: connection refused")

// clock is the injected clock: time moves only when the test says so.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const openFor = 5 * time.Second

func newBreaker(probes int) (*breaker.Breaker, *clock) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	return breaker.New(breaker.Config{Threshold: 3, OpenFor: openFor, Probes: probes, Now: c.Now}), c
}

// call makes one call through b that ends with result, and reports whether the downstream was called.
func call(t *testing.T, b *breaker.Breaker, result error) (called bool, err error) {
	t.Helper()
	err = b.Do(context.Background(), func(context.Context) error { called = true; return result })
	return called, err
}

func requireState(t *testing.T, b *breaker.Breaker, want breaker.State, why string) {
	t.Helper()
	got := b.State()
	require.Equal(t, want, got, "State() = %v, want %v: %s", got, want, why)
}

func TestBreakerOpens(t *testing.T) {
	b, _ := newBreaker(1)
	requireState(t, b, breaker.Closed, "a new breaker is closed")
	call(t, b, errDown)
	call(t, b, errDown)
	call(t, b, nil)
	call(t, b, errDown)
	call(t, b, errDown)
	requireState(t, b, breaker.Closed, "the threshold counts consecutive failures; a success in between starts again")
	call(t, b, errDown)
	requireState(t, b, breaker.Open, "3 consecutive failures reach the threshold")
	for range 10 {
		called, err := call(t, b, nil)
		require.ErrorIs(t, err, breaker.ErrOpen, "open: Do = %v, want ErrOpen", err)
		require.False(t, called, "open: the downstream was called, want no call at all: that is the point of breaking")
	}
}

func TestBreakerIgnoresCallerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"400", &shop.StatusError{Code: http.StatusBadRequest}},
		{"404", &shop.StatusError{Code: http.StatusNotFound}},
		{"499", &shop.StatusError{Code: 499}}, // nginx: the client closed the request
		{"402 wrapped", fmt.Errorf("charge order 7: %w", &shop.StatusError{Code: http.StatusPaymentRequired})},
		{"caller cancelled", context.Canceled},
		{"caller cancelled, wrapped", fmt.Errorf("charge: %w", context.Canceled)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBreaker(1)
			for range 10 {
				call(t, b, tc.err)
			}
			requireState(t, b, breaker.Closed, "10 x "+tc.name+": the downstream answered correctly, or the caller gave up; neither says payments are unhealthy")
		})
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"500", &shop.StatusError{Code: http.StatusInternalServerError}},
		{"503", &shop.StatusError{Code: http.StatusServiceUnavailable}},
		{"timeout", fmt.Errorf("charge: %w", context.DeadlineExceeded)},
		{"connection refused", errDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBreaker(1)
			for range 3 {
				call(t, b, tc.err)
			}
			requireState(t, b, breaker.Open, "3 x "+tc.name+": a downstream that is down, or too slow to answer in time, is failing")
		})
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	open := func(probes int) (*breaker.Breaker, *clock) {
		b, c := newBreaker(probes)
		for range 3 {
			call(t, b, errDown)
		}
		requireState(t, b, breaker.Open, "3 failures")
		return b, c
	}
	t.Run("waits OpenFor", func(t *testing.T) {
		b, c := open(1)
		c.Advance(openFor - time.Millisecond)
		requireState(t, b, breaker.Open, "OpenFor has not passed yet")
		c.Advance(time.Millisecond)
		requireState(t, b, breaker.HalfOpen, "after OpenFor the breaker probes; it must not close straight away")
	})
	t.Run("at most Probes in flight", func(t *testing.T) {
		b, c := open(2)
		c.Advance(openFor)
		d1, err := b.Allow()
		require.NoError(t, err, "half-open: probe 1")
		d2, err := b.Allow()
		require.NoError(t, err, "half-open: probe 2")
		for i := range 5 {
			_, err := b.Allow()
			require.ErrorIs(t, err, breaker.ErrTooManyProbes, "half-open with 2 probes in flight: Allow #%d = %v, want ErrTooManyProbes: a recovering service must not get the full load at once", i+3, err)
		}
		d1(nil)
		requireState(t, b, breaker.HalfOpen, "1 of 2 probes succeeded")
		d3, err := b.Allow()
		require.NoError(t, err, "half-open: a finished probe frees its slot")
		d2(nil)
		requireState(t, b, breaker.Closed, "2 probes succeeded")
		d3(nil)
		requireState(t, b, breaker.Closed, "a late probe result changes nothing once closed")
	})
	t.Run("a failed probe opens it again", func(t *testing.T) {
		b, c := open(2)
		c.Advance(openFor)
		called, _ := call(t, b, nil)
		require.True(t, called, "half-open: the first probe must reach the downstream")
		called, _ = call(t, b, errDown)
		require.True(t, called)
		requireState(t, b, breaker.Open, "a probe failed: the downstream has not recovered")
		c.Advance(openFor - time.Millisecond)
		requireState(t, b, breaker.Open, "re-opened: OpenFor counts again from the failed probe")
		called, err := call(t, b, nil)
		require.ErrorIs(t, err, breaker.ErrOpen)
		require.False(t, called)
		c.Advance(time.Millisecond)
		requireState(t, b, breaker.HalfOpen, "OpenFor after the failed probe")
	})
}

func TestBreakerGenerations(t *testing.T) {
	t.Run("a call from before the opening cannot close it", func(t *testing.T) {
		b, c := newBreaker(1)
		slow, err := b.Allow() // a slow call starts while closed
		require.NoError(t, err)
		for range 3 {
			call(t, b, errDown)
		}
		c.Advance(openFor)
		requireState(t, b, breaker.HalfOpen, "")
		slow(nil) // ...and ends now, while the breaker is half-open
		requireState(t, b, breaker.HalfOpen, "a call that started before the breaker opened succeeded late; it is not a probe, so it must not close the breaker")
		_, err = b.Allow()
		require.NoError(t, err, "half-open, Probes 1: the late result must not have used the probe slot")
	})
	t.Run("a call from before the opening cannot re-open it", func(t *testing.T) {
		b, c := newBreaker(1)
		slow, err := b.Allow()
		require.NoError(t, err)
		for range 3 {
			call(t, b, errDown)
		}
		c.Advance(openFor)
		slow(errDown)
		requireState(t, b, breaker.HalfOpen, "a late failure from the old generation must not re-open a breaker that is probing")
		called, _ := call(t, b, nil)
		require.True(t, called, "half-open: the probe must reach the downstream")
		requireState(t, b, breaker.Closed, "the probe succeeded")
	})
	t.Run("a late failure does not count towards the next opening", func(t *testing.T) {
		b, c := newBreaker(1)
		var slow []func(error)
		for range 2 {
			d, err := b.Allow()
			require.NoError(t, err)
			slow = append(slow, d)
		}
		for range 3 {
			call(t, b, errDown)
		}
		c.Advance(openFor)
		call(t, b, nil) // the probe closes it
		requireState(t, b, breaker.Closed, "the probe succeeded")
		slow[0](errDown)
		slow[1](errDown)
		call(t, b, errDown)
		requireState(t, b, breaker.Closed, "one new failure after closing; the 2 late ones belong to the generation before the opening")
	})
}

// TestBreakerConcurrent: many goroutines against a failing, then recovering downstream. Under -race it checks the
// locking; the counts check that half-open never lets more than Probes calls be in flight at once.
func TestBreakerConcurrent(t *testing.T) {
	b, c := newBreaker(3)
	for range 3 {
		call(t, b, errDown)
	}
	c.Advance(openFor)
	var (
		mu            sync.Mutex
		inflight, top int
		wg            sync.WaitGroup
		release       = make(chan struct{})
	)
	for range 50 {
		wg.Go(func() {
			_ = b.Do(context.Background(), func(context.Context) error {
				mu.Lock()
				inflight++
				top = max(top, inflight)
				mu.Unlock()
				<-release
				mu.Lock()
				inflight--
				mu.Unlock()
				return nil
			})
		})
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return inflight == 3 }, 5*time.Second, time.Millisecond,
		"half-open with Probes 3: 50 concurrent callers, want exactly 3 probes in flight")
	close(release)
	wg.Wait()
	require.Equal(t, 3, top, "half-open with Probes 3: most probes in flight = %d, want 3", top)
	requireState(t, b, breaker.Closed, "3 probes succeeded")
}
