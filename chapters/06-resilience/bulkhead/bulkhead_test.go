package bulkhead_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/bulkhead"
	"github.com/gomicrolab/microlab/chapters/06-resilience/shop"
)

func TestFallbackBulkhead(t *testing.T) {
	b := bulkhead.New(2)
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			errs <- b.Do(context.Background(), func(context.Context) error { started <- struct{}{}; <-release; return nil })
		}()
	}
	for range 2 {
		select {
		case <-started:
		case err := <-errs:
			t.Fatalf("Bulkhead(2): Do with a free slot = %v before fn ran, want fn to run", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Bulkhead(2): fn not started 5s after Do with a free slot")
		}
	}
	var called atomic.Bool
	third := make(chan error, 1)
	go func() {
		third <- b.Do(context.Background(), func(context.Context) error { called.Store(true); return nil })
	}()
	select {
	case err := <-third:
		require.ErrorIs(t, err, bulkhead.ErrFull, "Bulkhead(2) with 2 calls in flight: Do = %v, want ErrFull", err)
		require.False(t, called.Load(), "Bulkhead(2) full: fn was called, want no call")
	case <-time.After(time.Second):
		close(release)
		t.Fatal("Bulkhead(2) with 2 calls in flight: Do still waiting after 1s, want an immediate ErrFull: a queue in front of a slow service is just more waiting")
	}
	close(release)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)

	boom := errors.New("boom")
	for range 5 {
		require.ErrorIs(t, b.Do(context.Background(), func(context.Context) error { return boom }), boom, "Do returns fn's error")
	}
	require.Zero(t, b.InUse(), "Bulkhead after 5 failed calls: InUse = %d, want 0: a slot must come back however fn ends", b.InUse())
	require.NoError(t, b.Do(context.Background(), func(context.Context) error { return nil }))
}

// slowCharge blocks until its ctx is done (a payment service that does not answer), counting calls in flight.
type slowCharge struct{ inflight, calls atomic.Int64 }

func (s *slowCharge) Charge(ctx context.Context, _ int64) error {
	s.calls.Add(1)
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return nil
	}
}

func TestFallbackPay(t *testing.T) {
	const budget = 50 * time.Millisecond
	payer := func(charge func(context.Context, int64) error) *bulkhead.Payer {
		return &bulkhead.Payer{Charge: charge, Bulkhead: bulkhead.New(2), Budget: budget}
	}
	t.Run("paid", func(t *testing.T) {
		p := payer(func(context.Context, int64) error { return nil })
		status, err := p.Pay(context.Background(), 100)
		require.NoError(t, err)
		require.Equal(t, shop.StatusPaid, status)
		require.Zero(t, p.Deferred())
	})
	t.Run("slow payments degrade within the budget", func(t *testing.T) {
		s := &slowCharge{}
		p := payer(s.Charge)
		start := time.Now()
		status, err := p.Pay(context.Background(), 100)
		took := time.Since(start)
		require.NoError(t, err, "Pay(payments not answering) = %v, want the fallback, not an error", err)
		require.Equal(t, shop.StatusPending, status, "Pay(payments not answering) = %q, want %q (the documented fallback)", status, shop.StatusPending)
		require.Less(t, took, budget+450*time.Millisecond, "Pay(payments not answering) took %v, want about the 50ms budget: a fallback that waits for the slow call first is no fallback", took)
		require.Eventually(t, func() bool { return s.inflight.Load() == 0 }, time.Second, time.Millisecond,
			"after Pay returned, %d payment calls still running, want 0: cancel the call when the budget ends, or goroutines pile up", s.inflight.Load())
		require.EqualValues(t, 1, p.Deferred(), "Deferred() = %d, want 1: count every order that took the fallback", p.Deferred())
	})
	t.Run("payments down degrade", func(t *testing.T) {
		for _, err := range []error{errors.New("connection refused"), &shop.StatusError{Code: http.StatusServiceUnavailable}} {
			p := payer(func(context.Context, int64) error { return err })
			status, got := p.Pay(context.Background(), 100)
			require.NoError(t, got, "Pay(payments fail with %v) = %v, want the fallback", err, got)
			require.Equal(t, shop.StatusPending, status, "Pay(payments fail with %v) = %q, want %q", err, status, shop.StatusPending)
		}
	})
	t.Run("a declined card is an answer", func(t *testing.T) {
		p := payer(func(context.Context, int64) error { return &shop.StatusError{Code: http.StatusPaymentRequired} })
		status, err := p.Pay(context.Background(), 100)
		var se *shop.StatusError
		require.ErrorAs(t, err, &se, "Pay(card declined) = %q, %v, want the 402 back: degrading a decline would ship unpaid goods", status, err)
		require.Equal(t, http.StatusPaymentRequired, se.Code)
		require.Zero(t, p.Deferred(), "a declined card must not be deferred")
	})
	t.Run("busy payments degrade at once", func(t *testing.T) {
		s := &slowCharge{}
		p := &bulkhead.Payer{Charge: s.Charge, Bulkhead: bulkhead.New(2), Budget: 5 * time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{}, 2)
		for range 2 { // fill the bulkhead with calls that last as long as ctx
			go func() { _, _ = p.Pay(ctx, 100); done <- struct{}{} }()
		}
		require.Eventually(t, func() bool { return s.inflight.Load() == 2 }, 2*time.Second, time.Millisecond)
		start := time.Now()
		status, err := p.Pay(context.Background(), 100)
		require.NoError(t, err)
		require.Equal(t, shop.StatusPending, status, "Pay with the bulkhead full = %q, want %q", status, shop.StatusPending)
		require.Less(t, time.Since(start), time.Second, "Pay with the bulkhead full took %v, want far less than the 5s budget: ErrFull degrades at once", time.Since(start))
		require.EqualValues(t, 2, s.calls.Load(), "payment calls = %d, want 2: the third order must not reach payments", s.calls.Load())
	})
	t.Run("the caller gave up", func(t *testing.T) {
		p := payer((&slowCharge{}).Charge)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Pay(ctx, 100)
		require.ErrorIs(t, err, context.Canceled, "Pay(caller cancelled) = %v, want context.Canceled: nobody is waiting for a fallback", err)
		require.Zero(t, p.Deferred(), "a cancelled order must not be deferred")
	})
}

// TestFallbackAvalanche runs the chapter's baseline scenario (payments +1s, 30 orders at 40/s, naive service that pays
// inside its transaction) with a bulkhead of 4 and a 300ms budget on the payment call.
func TestFallbackAvalanche(t *testing.T) {
	const size, budget = 4, 300 * time.Millisecond
	var inflight, peak atomic.Int64
	var payer *bulkhead.Payer
	sys, err := shop.Start(shop.Config{PoolSize: 10, HoldPool: true, Pay: func(c *shop.Charger) shop.PayFunc {
		charge := func(ctx context.Context, cents int64) error {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			return c.Charge(ctx, cents)
		}
		payer = &bulkhead.Payer{Charge: charge, Bulkhead: bulkhead.New(size), Budget: budget}
		return payer.Pay
	}})
	require.NoError(t, err)
	t.Cleanup(sys.Close)

	codes := shop.Sequential(context.Background(), sys.URL, 10)
	require.Equal(t, map[int]int{http.StatusCreated: 10}, codes, "healthy payments: order answers = %v, want 10 x 201 paid", codes)

	require.NoError(t, sys.Proxy.SetLatency(time.Second))
	peak.Store(0)
	rep := shop.Baseline.Run(context.Background(), sys.URL, sys.App)
	t.Logf("bulkhead %d + fallback, payments +1s: orders %v, slowest %v; /users slowest %v; peak in-flight %d; payment calls in flight at most %d; deferred %d; goroutines +%d",
		size, rep.OrderCodes, rep.OrderSlowest, rep.UserMax(), rep.PeakInflight, peak.Load(), payer.Deferred(), rep.Goroutines)

	require.Equal(t, map[int]int{http.StatusAccepted: shop.Baseline.Orders}, rep.OrderCodes,
		"slow payments: order answers = %v (still waiting %d), want all %d as 202 pending_payment: degrade, do not fail", rep.OrderCodes, rep.OrderWaiting, shop.Baseline.Orders)
	require.Less(t, rep.OrderSlowest, budget+500*time.Millisecond, "slow payments: slowest order %v, want within the %v budget (+500ms slack for loaded machines)", rep.OrderSlowest, budget)
	require.LessOrEqual(t, peak.Load(), int64(size), "slow payments: payment calls in flight at most %d, want <= %d: the bulkhead bounds what payments can hold", peak.Load(), size)
	require.Less(t, rep.UserMax(), 400*time.Millisecond, "slow payments: slowest /users %v, want < 400ms: the bulkhead keeps orders from taking every connection", rep.UserMax())
	require.Zero(t, rep.UserFailures)
	require.Less(t, rep.PeakInflight, int64(15), "slow payments: peak in-flight %d, want < 15 (the naive path reaches 30)", rep.PeakInflight)
	// New keep-alive connections opened during the run each add a few goroutines (client, server, proxy); 60 leaves
	// room for a dozen of them. Measured: between -3 and 0. The naive path grows by about 200.
	require.Less(t, rep.Goroutines, 60, "slow payments: goroutines grew by %d during the run, want < 60 (the naive path: about +200)", rep.Goroutines)
	require.Eventually(t, func() bool { return inflight.Load() == 0 }, time.Second, 5*time.Millisecond,
		"%d payment calls still running after every order was answered, want 0: a fallback must cancel the slow call, not abandon it", inflight.Load())
}
