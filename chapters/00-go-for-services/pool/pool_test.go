package pool

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// gauge measures how many calls run at once and the highest value it reached.
type gauge struct{ now, max atomic.Int64 }

func (g *gauge) enter() int64 {
	n := g.now.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return n
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// stuckAfter is far beyond what any test here needs: a Map still running after it is blocked for good.
const stuckAfter = 10 * time.Second

const stuckHint = "does every path close the channel the workers range over, and is nothing waiting for a goroutine that can no longer finish?"

// callMap calls Map and fails the test if it has not returned after stuckAfter, so that a Map that
// blocks forever fails with a reason instead of hanging the test run.
func callMap(t *testing.T, ctx context.Context, workers int, items []int, fn func(context.Context, int) int) (got []int, err error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, err = Map(ctx, workers, items, fn)
	}()
	select {
	case <-done:
	case <-time.After(stuckAfter):
		t.Fatalf("Map(workers=%d, %d items) has not returned after %v: %s", workers, len(items), stuckAfter, stuckHint)
	}
	return got, err
}

func TestPoolBoundAndOrder(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		items   int
	}{
		{name: "one worker", workers: 1, items: 10},
		{name: "three workers", workers: 3, items: 40},
		{name: "eight workers", workers: 8, items: 64},
		{name: "more workers than items", workers: 16, items: 5},
		{name: "no items", workers: 4, items: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			items := make([]int, tt.items)
			for i := range items {
				items[i] = i
			}
			var g gauge
			want := int64(min(tt.workers, tt.items))
			// The first calls wait until want of them run at once (or give up after a while), so that the
			// parallelism check does not depend on how fast a busy machine schedules the workers.
			allIn, gaveUp := make(chan struct{}), make(chan struct{})
			var allInOnce, gaveUpOnce sync.Once
			square := func(ctx context.Context, x int) int {
				if g.enter() == want {
					allInOnce.Do(func() { close(allIn) })
				}
				defer g.leave()
				select {
				case <-allIn:
				case <-gaveUp:
				case <-time.After(2 * time.Second):
					gaveUpOnce.Do(func() { close(gaveUp) }) // a serial Map pays this once, not per item
				}
				// Early items take longest, so results finish out of order.
				time.Sleep(time.Duration(1+(tt.items-x)%5) * time.Millisecond)
				return x * x
			}

			got, err := callMap(t, context.Background(), tt.workers, items, square)

			require.NoError(t, err, "Map(workers=%d, %d items)", tt.workers, tt.items)
			require.Len(t, got, tt.items, "Map(workers=%d, %d items) returned %d results, want one per item", tt.workers, tt.items, len(got))
			for i, v := range got {
				require.Equal(t, i*i, v, "Map(...)[%d] = %d, want %d: results must be in input order, not completion order", i, v, i*i)
			}
			require.LessOrEqual(t, g.max.Load(), want,
				"Map(workers=%d) ran %d calls at once, want at most %d", tt.workers, g.max.Load(), want)
			require.Equal(t, want, g.max.Load(),
				"Map(workers=%d, %d items) ran at most %d calls at once, want %d: the workers must run in parallel",
				tt.workers, tt.items, g.max.Load(), want)
		})
	}
}

func TestPoolGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const workers, n = 4, 500
	items := make([]int, n)
	base := runtime.NumGoroutine()
	var extra atomic.Int64
	fn := func(ctx context.Context, x int) int {
		for {
			cur, seen := int64(runtime.NumGoroutine()-base), extra.Load()
			if cur <= seen || extra.CompareAndSwap(seen, cur) {
				break
			}
		}
		time.Sleep(50 * time.Microsecond)
		return x
	}

	_, err := callMap(t, context.Background(), workers, items, fn)

	require.NoError(t, err)
	// Either design in the lesson stays near workers: a fixed set of workers (plus perhaps a feeder), or a
	// goroutine per item started only after a semaphore slot is free (a few of those may be exiting
	// while their successors start). Starting a goroutine per item up front and letting each wait for a
	// slot is what this rejects: every waiting goroutine holds a stack, so memory grows with the input.
	const limit = 2 * workers
	require.LessOrEqual(t, extra.Load(), int64(limit),
		"Map(workers=%d, %d items) had %d extra goroutines alive at once, want at most %d: start goroutines only as fast as workers free up (a fixed set of workers, or acquire the semaphore before go), not one per item up front",
		workers, n, extra.Load(), limit)
}

func TestPoolCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const workers, n, cancelAfter = 4, 1000, 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int64
	fn := func(ctx context.Context, x int) int {
		if calls.Add(1) == cancelAfter {
			cancel()
		}
		time.Sleep(time.Millisecond)
		return x
	}

	_, err := callMap(t, ctx, workers, make([]int, n), fn)

	require.ErrorIs(t, err, context.Canceled, "Map() after ctx was cancelled: error = %v, want one wrapping context.Canceled", err)
	// After the cancel, each worker may finish its call and a few items may already be handed out.
	const limit = cancelAfter + 2*workers
	require.LessOrEqual(t, calls.Load(), int64(limit),
		"Map() made %d calls after ctx was cancelled at call %d, want at most %d: stop handing out items when ctx is done",
		calls.Load(), cancelAfter, limit)
}

// Timings of TestPoolCancelInFlight. stuckFor is far longer than the test needs, so a call in flight
// normally ends through its ctx. holdFor is how long a cancelled call takes to clean up before it returns,
// unless Map has already returned: a Map that waits for its calls in flight returns after about holdFor,
// one that does not returns while they still run, and the test sees it without depending on scheduling.
const (
	stuckFor = 3 * time.Second
	holdFor  = time.Second
)

// TestPoolCancelInFlight cancels Map while every worker is busy and many items are still waiting.
func TestPoolCancelInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const workers, n = 4, 100
	type requestID struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), requestID{}, "req-42"))
	defer cancel()

	var (
		cancelled                                    atomic.Bool // set just before cancel
		started, late, inFlight, sawCancel, otherCtx atomic.Int64
	)
	busy := make(chan struct{}, n) // a token for each of the first calls once it runs
	release := make(chan struct{}) // ends the cleanup of the calls in flight
	var releaseOnce sync.Once
	stop := func() { releaseOnce.Do(func() { close(release) }) }
	defer stop()
	fn := func(ctx context.Context, x int) int {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		if cancelled.Load() {
			late.Add(1)
			return x
		}
		if ctx.Value(requestID{}) != "req-42" {
			otherCtx.Add(1)
		}
		if started.Add(1) > workers {
			return x
		}
		busy <- struct{}{}
		select {
		case <-ctx.Done():
			sawCancel.Add(1)
		case <-time.After(stuckFor):
		}
		select {
		case <-release:
		case <-time.After(holdFor):
		}
		return x
	}

	type outcome struct {
		err      error
		inFlight int64
	}
	done := make(chan outcome, 1)
	go func() {
		_, err := Map(ctx, workers, make([]int, n), fn)
		done <- outcome{err, inFlight.Load()}
	}()
	for i := range workers {
		select {
		case <-busy:
		case got := <-done:
			t.Fatalf("Map(workers=%d, %d items) returned (error: %v) after %d calls had started, want %d calls running at once first", workers, n, got.err, i, workers)
		case <-time.After(5 * time.Second):
			cancel()
			stop()
			<-done
			t.Fatalf("Map(workers=%d, %d items) ran only %d calls at once after 5s, want %d: start the workers before waiting for results", workers, n, i, workers)
		}
	}
	// Every worker is now inside fn, and 96 items are waiting. Cancel once Map is parked waiting for a
	// free worker, so that the test sees how Map handles a cancel that arrives while it waits, every time.
	waitUntilMapParks()
	cancelled.Store(true)
	cancel()
	var got outcome
	select {
	case got = <-done:
	case <-time.After(stuckAfter):
		stop()
		t.Fatalf("Map() has not returned %v after ctx was cancelled: %s", stuckAfter, stuckHint)
	}
	stop()

	require.ErrorIs(t, got.err, context.Canceled, "Map() cancelled while calls were in flight: error = %v, want one wrapping context.Canceled", got.err)
	require.Zero(t, late.Load(),
		"Map() started %d calls after ctx was cancelled, want 0: an item handed out or queued before the cancel must not start afterwards, so check ctx right before each call",
		late.Load())
	require.Zero(t, got.inFlight,
		"Map() returned while %d calls were still running, want 0: after a cancel, wait for the calls in flight before returning",
		got.inFlight)
	require.Zero(t, otherCtx.Load(),
		"fn got a ctx without the caller's values in %d calls, want Map's own ctx: pass ctx to fn, not context.Background()",
		otherCtx.Load())
	require.EqualValues(t, workers, sawCancel.Load(),
		"%d of the %d calls in flight saw their ctx cancelled, want all: pass Map's ctx to fn so that calls in flight can stop early",
		sawCancel.Load(), workers)
}

// waitUntilMapParks waits until the goroutine that called Map is blocked on a channel, a select or a lock
// (waiting for a free worker, or for its workers) rather than running Map's own code. It reads the
// goroutine dump, the only outside view of a goroutine's state; if that never shows, it gives up after
// a generous 5s and lets the test go on, so it can delay a test but never fail one.
func waitUntilMapParks() {
	blocked := []string{"[select", "[chan send", "[chan receive", "[semacquire", "[sync."}
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Microsecond) {
		dump := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(dump, "\n\n") {
			// The caller has a frame for Map itself; the goroutines Map started show Map[...].funcN.
			header, _, _ := strings.Cut(g, "\n")
			if !strings.Contains(g, "pool.Map[...](") {
				continue
			}
			for _, state := range blocked {
				if strings.Contains(header, state) {
					return
				}
			}
		}
	}
}

// slowDone is a context whose Done takes a moment to answer. By the time Map's select looks at it, the
// idle workers are already waiting for an item, so a send case and ctx.Done are ready together.
type slowDone struct{ context.Context }

func (c slowDone) Done() <-chan struct{} {
	time.Sleep(time.Millisecond)
	return c.Context.Done()
}

func TestPoolCancelledBeforeStart(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// select picks at random among ready cases, so a Map that relies on select alone hands out an item
	// about every other round; 30 rounds make a lucky pass practically impossible.
	const workers, n, rounds = 4, 100, 30
	for round := range rounds {
		var calls atomic.Int64
		_, err := callMap(t, slowDone{ctx}, workers, make([]int, n), func(context.Context, int) int {
			calls.Add(1)
			return 0
		})

		require.ErrorIs(t, err, context.Canceled, "Map() with a cancelled ctx: error = %v, want one wrapping context.Canceled", err)
		require.Zero(t, calls.Load(),
			"Map() with a ctx cancelled before it started made %d calls in round %d, want 0: select picks at random when a worker is free and ctx is done, so check ctx.Err() yourself before each send or call",
			calls.Load(), round+1)
	}
}

func TestPoolInvalidWorkers(t *testing.T) {
	for _, workers := range []int{0, -1} {
		_, err := callMap(t, context.Background(), workers, []int{1}, func(context.Context, int) int { return 0 })
		require.ErrorIs(t, err, ErrInvalidWorkers, "Map(workers=%d) error = %v, want ErrInvalidWorkers", workers, err)
	}
}
