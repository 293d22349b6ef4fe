package breaker_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/breaker"
)

// fixedRand is the injected random source: Allow rejects exactly when the value is below the probability.
type fixedRand struct{ v float64 }

func (r *fixedRand) Float64() float64 { return r.v }

const window = 10 * time.Second

func newThrottle(k float64) (*breaker.Throttle, *clock, *fixedRand) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	r := &fixedRand{v: 0.999999}
	return breaker.NewThrottle(breaker.ThrottleConfig{K: k, Window: window, Buckets: 10, Now: c.Now, Rand: r.Float64}), c, r
}

// send makes n calls that the downstream accepts (or not); rejected calls are not sent. It returns how many were sent.
func send(t *testing.T, th *breaker.Throttle, n int, accepted bool) (sent int) {
	t.Helper()
	for range n {
		done, err := th.Allow()
		if err != nil {
			require.ErrorIs(t, err, breaker.ErrThrottled, "Allow() error = %v, want ErrThrottled", err)
			continue
		}
		sent++
		done(accepted)
	}
	return sent
}

func requireP(t *testing.T, th *breaker.Throttle, want float64, why string) {
	t.Helper()
	got := th.RejectProbability()
	require.InDelta(t, want, got, 1e-9, "RejectProbability() = %.4f, want %.4f: %s", got, want, why)
}

func TestThrottleHealthy(t *testing.T) {
	th, _, r := newThrottle(2)
	r.v = 0 // the most rejecting draw there is
	require.Equal(t, 100, send(t, th, 100, true), "healthy downstream: calls sent, want all 100: nothing is rejected while it accepts")
	requireP(t, th, 0, "100 requests, 100 accepts: max(0, (100 - 2*100) / 101)")
	send(t, th, 50, false)
	requireP(t, th, 0, "150 requests, 100 accepts, K=2: (150 - 200) / 151 < 0; up to K requests per accept are tolerated")
}

func TestThrottleFormula(t *testing.T) {
	for _, tc := range []struct {
		name              string
		k                 float64
		accepted, refused int
		want              float64
	}{
		{"outage, 10 refused", 2, 0, 10, 10.0 / 11},
		{"30 of 100 accepted, K=2", 2, 30, 70, (100 - 60.0) / 101},
		{"30 of 100 accepted, K=1.5", 1.5, 30, 70, (100 - 45.0) / 101},
		{"60 of 100 accepted, K=1.5", 1.5, 60, 40, (100 - 90.0) / 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, _, _ := newThrottle(tc.k)
			send(t, th, tc.accepted, true)
			send(t, th, tc.refused, false)
			requireP(t, th, tc.want, "max(0, (requests - K*accepts) / (requests + 1))")
		})
	}
}

func TestThrottleRejects(t *testing.T) {
	th, _, r := newThrottle(2)
	send(t, th, 10, false) // outage: p = 10/11 = 0.909
	r.v = 0.92
	_, err := th.Allow()
	require.NoError(t, err, "p = 0.909, draw 0.92: Allow() = %v, want the call sent (reject only when the draw is below p)", err)
	th, _, r = newThrottle(2)
	send(t, th, 10, false)
	r.v = 0.90
	_, err = th.Allow()
	require.ErrorIs(t, err, breaker.ErrThrottled, "p = 0.909, draw 0.90: Allow() = %v, want ErrThrottled", err)
	requireP(t, th, 11.0/12, "the rejected call is a request too (11 requests, 0 accepts): rejections push p up, towards 1")

	r.v = 0
	sent := send(t, th, 1000, false)
	require.Zero(t, sent, "draw 0 in an outage: %d calls sent, want 0", sent)
	p := th.RejectProbability()
	require.Less(t, p, 1.0, "after 1011 requests and no accepts p = %v, want < 1: the throttle never rejects everything, so some calls still find out when payments are back", p)
}

func TestThrottleWindow(t *testing.T) {
	th, c, _ := newThrottle(2)
	send(t, th, 10, false)
	c.Advance(window / 2)
	send(t, th, 10, false)
	requireP(t, th, 20.0/21, "20 refused within the window")
	c.Advance(window / 2)
	requireP(t, th, 10.0/11, "one window after the first 10, only the second 10 count: history leaves bucket by bucket")
	c.Advance(window / 2)
	requireP(t, th, 0, "nothing in the last window")
}

func TestThrottleRecovers(t *testing.T) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	rnd := rand.New(rand.NewPCG(1, 2)) // seeded: the same draws every run
	th := breaker.NewThrottle(breaker.ThrottleConfig{K: 2, Window: window, Buckets: 10, Now: c.Now, Rand: rnd.Float64})
	send(t, th, 100, false) // outage
	// Payments come back. The calls that still go through are accepted, so p falls, so more go through.
	sent, rounds := 0, 0
	for ; th.RejectProbability() > 0 && rounds < 100; rounds++ {
		c.Advance(window / 10)
		sent += send(t, th, 10, true)
	}
	require.Positive(t, sent, "recovery: no call sent, want some: the throttle must let a few calls through to notice the recovery")
	requireP(t, th, 0, "payments recovered 100 rounds (100s) ago")
	t.Logf("recovered after %d rounds of 1s", rounds)
	require.NoError(t, th.Do(context.Background(), func(context.Context) error { return nil }))
}

func TestThrottleDo(t *testing.T) {
	th, _, r := newThrottle(2)
	calls := 0
	refused := func(context.Context) error { calls++; return errDown }
	for i := range 10 {
		err := th.Do(context.Background(), refused)
		require.ErrorIs(t, err, errDown, "Do #%d on a fresh throttle = %v, want the call's own error: Do runs fn and returns what it returned", i+1, err)
	}
	require.Equal(t, 10, calls, "Do: fn ran %d times for 10 calls, want 10: nothing is rejected before there is a history", calls)
	requireP(t, th, 10.0/11, "10 calls through Do that failed: Do reports each result to the throttle")

	r.v = 0
	err := th.Do(context.Background(), refused)
	require.ErrorIs(t, err, breaker.ErrThrottled, "Do in an outage with draw 0 = %v, want ErrThrottled", err)
	require.Equal(t, 10, calls, "Do rejected the call but fn ran anyway: a throttled call must not reach the downstream")
}
