package shed_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/shed"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// allow calls Allow in a goroutine, so that a limiter that queues instead of rejecting fails the test, not hangs it.
func allow(t *testing.T, l *shed.Limiter) (func(), error) {
	t.Helper()
	type res struct {
		done func()
		err  error
	}
	ch := make(chan res, 1)
	go func() { d, err := l.Allow(); ch <- res{d, err} }()
	select {
	case r := <-ch:
		return r.done, r.err
	case <-time.After(2 * time.Second):
		t.Fatal("Allow() still waiting after 2s, want an answer at once: reject with ErrOverloaded, never queue")
		return nil, nil
	}
}

func TestShedRejectsFast(t *testing.T) {
	l := shed.New(shed.Config{Target: time.Second, Min: 1, Max: 10, Initial: 2, Backoff: 0.5})
	d1, err := allow(t, l)
	require.NoError(t, err, "Allow #1 with limit 2")
	_, err = allow(t, l)
	require.NoError(t, err, "Allow #2 with limit 2")
	_, err = allow(t, l)
	require.ErrorIs(t, err, shed.ErrOverloaded, "Allow #3 with limit 2 and 2 in flight = %v, want ErrOverloaded", err)
	require.Equal(t, 2, l.Inflight())
	d1()
	require.Equal(t, 1, l.Inflight(), "Inflight() after one done = %d, want 1", l.Inflight())
	_, err = allow(t, l)
	require.NoError(t, err, "a finished request frees its place")
}

func TestShedAdapts(t *testing.T) {
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	l := shed.New(shed.Config{Target: 100 * time.Millisecond, Min: 2, Max: 12, Initial: 10, Backoff: 0.5, Now: c.Now})
	finish := func(took time.Duration) {
		t.Helper()
		done, err := allow(t, l)
		require.NoError(t, err, "Allow with limit %d", l.Limit())
		c.Advance(took)
		done()
	}
	finish(200 * time.Millisecond)
	require.Equal(t, 5, l.Limit(), "limit 10, one request slower than Target: Limit() = %d, want 5 (x Backoff 0.5): cut at once when latency says we are past capacity", l.Limit())
	finish(150 * time.Millisecond)
	require.Equal(t, 2, l.Limit(), "limit 5 x 0.5 = 2.5: Limit() = %d, want 2", l.Limit())
	finish(time.Second)
	require.Equal(t, 2, l.Limit(), "Limit() = %d, want 2: never below Min, or the service stops taking requests at all", l.Limit())

	for range 3 {
		finish(10 * time.Millisecond)
	}
	// 2.5 -> 2.5 + 1/2.5 = 2.9 -> 2.9 + 1/2.9 = 3.24 (from 2.5: the limit keeps its fraction)
	require.Equal(t, 3, l.Limit(), "3 requests on time from limit 2.5: Limit() = %d, want 3: grow by 1/limit per request (about +1 per round trip), slowly", l.Limit())
	for range 200 {
		finish(10 * time.Millisecond)
	}
	require.Equal(t, 12, l.Limit(), "after 200 requests on time: Limit() = %d, want 12 (Max)", l.Limit())
	finish(100 * time.Millisecond)
	require.Equal(t, 12, l.Limit(), "a request that takes exactly Target is on time: Limit() = %d, want 12", l.Limit())
}

// server is a service with a fixed capacity: 4 workers, 20ms of work each. Above 4 requests in flight they queue,
// and every request's latency grows with the queue.
type server struct{ workers chan struct{} }

func (s *server) handle() {
	s.workers <- struct{}{}
	time.Sleep(20 * time.Millisecond)
	<-s.workers
}

type result struct{ admitted, rejected []time.Duration }

// overload runs 100 clients in closed loops against s, through l when l is not nil, for 2 seconds (so at most
// ~400 requests are served; rejections are bounded by the clients' 20ms back-off). Latencies of requests that
// started in the first 500ms are not kept: that is the limiter's warm-up from its initial limit.
func overload(s *server, l *shed.Limiter) result {
	const clients = 100
	var (
		mu     sync.Mutex
		res    result
		wg     sync.WaitGroup
		begin  = time.Now()
		warm   = begin.Add(500 * time.Millisecond)
		until  = begin.Add(2 * time.Second)
		record = func(list *[]time.Duration, start time.Time) {
			if start.Before(warm) {
				return
			}
			mu.Lock()
			*list = append(*list, time.Since(start))
			mu.Unlock()
		}
	)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(until) {
				start := time.Now()
				if l == nil {
					s.handle()
					record(&res.admitted, start)
					continue
				}
				done, err := l.Allow()
				if err != nil {
					record(&res.rejected, start)
					time.Sleep(20 * time.Millisecond) // a client backing off
					continue
				}
				s.handle()
				done()
				record(&res.admitted, start)
			}
		})
	}
	wg.Wait()
	return res
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// TestShedOverload: 100 concurrent clients against a service that serves 4 at a time. Without shedding every
// request waits behind ~96 others (~500ms). With the limiter (starting at 100, target 100ms), excess is rejected
// at once and the admitted requests stay near the target. `go test -v` prints the figures.
func TestShedOverload(t *testing.T) {
	naive := overload(&server{workers: make(chan struct{}, 4)}, nil)
	l := shed.New(shed.Config{Target: 100 * time.Millisecond, Min: 1, Max: 100, Initial: 100, Backoff: 0.75})
	got := overload(&server{workers: make(chan struct{}, 4)}, l)
	t.Logf("no shedding: %d requests, p50 %v, p90 %v", len(naive.admitted), pct(naive.admitted, 0.5), pct(naive.admitted, 0.9))
	t.Logf("shedding: %d admitted, p50 %v, p90 %v; %d rejected, p99 %v; final limit %d",
		len(got.admitted), pct(got.admitted, 0.5), pct(got.admitted, 0.9), len(got.rejected), pct(got.rejected, 0.99), l.Limit())

	require.NotEmpty(t, got.rejected, "overload: nothing rejected, want the excess rejected: a limit that stays at 100 lets the queue form")
	require.Greater(t, len(got.admitted), 50, "overload: only %d admitted in 1.5s, want the service kept busy (> 50 of ~300 possible): shedding must not shed everything", len(got.admitted))
	// Rejection is a mutex and a comparison; 20ms covers a starved goroutine on a loaded 2-core machine.
	require.Less(t, pct(got.rejected, 0.99), 20*time.Millisecond, "overload: p99 of rejections %v, want < 20ms: excess must fail fast", pct(got.rejected, 0.99))
	// Unshedded, the p50 is ~500ms (100 clients / 4 workers x 20ms); admitted requests must be far from it.
	require.Less(t, pct(got.admitted, 0.5), pct(naive.admitted, 0.5)/2,
		"overload: admitted p50 %v, want < half the unshedded p50 %v: admitted requests keep their latency", pct(got.admitted, 0.5), pct(naive.admitted, 0.5))
	require.Zero(t, l.Inflight(), "Inflight() after the load = %d, want 0: every done must give its place back", l.Inflight())
}
