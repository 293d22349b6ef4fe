package cancel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// tracker counts replica calls that are still running.
type tracker struct{ active atomic.Int64 }

// answer returns a replica that answers val after delay, unless ctx ends first.
func (tr *tracker) answer(val string, delay time.Duration) Replica {
	return func(ctx context.Context, key string) (string, error) {
		tr.active.Add(1)
		defer tr.active.Add(-1)
		select {
		case <-time.After(delay):
			return val, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// slowDelay is far longer than any deadline in these tests, so a slow replica normally ends through ctx.
const slowDelay = 3 * time.Second

// slow returns a replica that answers only after slowDelay.
func (tr *tracker) slow() Replica { return tr.answer("too late", slowDelay) }

// fail returns a replica that fails with err after delay.
func (tr *tracker) fail(err error, delay time.Duration) Replica {
	return func(ctx context.Context, key string) (string, error) {
		tr.active.Add(1)
		defer tr.active.Add(-1)
		time.Sleep(delay)
		return "", err
	}
}

// holdFor is how long a cancelled lingerer takes to clean up (close a connection, flush a buffer) before
// it returns. The test ends the cleanup early once First has returned. A First that waits for its losers
// therefore returns after about holdFor, every loser done; a First that does not wait returns while they
// are still cleaning up, and the test sees it without depending on how the scheduler ran them.
const holdFor = time.Second

// lingerer makes replicas that stay busy for a while after their ctx is cancelled, as real calls do.
type lingerer struct {
	cancelled atomic.Int64 // calls that saw their ctx done
	returned  atomic.Int64 // calls that have returned
	release   chan struct{}
	once      sync.Once
}

func newLingerer() *lingerer { return &lingerer{release: make(chan struct{})} }

// replica answers "too late" after slowDelay, unless ctx ends first; then it cleans up and fails
// with abortErr, or with ctx.Err() when abortErr is nil.
func (l *lingerer) replica(abortErr error) Replica {
	return func(ctx context.Context, key string) (string, error) {
		defer l.returned.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(slowDelay):
			return "too late", nil
		}
		l.cancelled.Add(1)
		select {
		case <-l.release:
		case <-time.After(holdFor):
		}
		if abortErr != nil {
			return "", abortErr
		}
		return "", ctx.Err()
	}
}

// stop ends every cleanup still in progress.
func (l *lingerer) stop() { l.once.Do(func() { close(l.release) }) }

func (tr *tracker) requireIdle(t *testing.T) {
	t.Helper()
	require.Zero(t, tr.active.Load(),
		"replica calls still running after First returned; cancel the losers and wait for every goroutine before returning")
}

// stuckAfter is far beyond what any test here needs: a First still running after it is blocked for good.
const stuckAfter = 10 * time.Second

// returnsWithin runs f and fails the test if f has not returned after stuckAfter, so that a First that
// blocks forever fails with a reason instead of hanging the test run.
func returnsWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(stuckAfter):
		t.Fatalf("%s has not returned after %v: is a goroutine blocked sending a result that nobody will read (an unbuffered channel), or waiting for a replica that was never cancelled?", what, stuckAfter)
	}
}

// first calls First(ctx, "k", replicas) through returnsWithin.
func first(t *testing.T, ctx context.Context, replicas []Replica) (got string, err error) {
	t.Helper()
	returnsWithin(t, "First()", func() { got, err = First(ctx, "k", replicas) })
	return got, err
}

func TestCancelFirstAnswerWins(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	replicas := []Replica{tr.slow(), tr.answer("fast", 10*time.Millisecond), tr.slow()}

	start := time.Now()
	got, err := first(t, context.Background(), replicas)
	elapsed := time.Since(start)

	require.NoError(t, err, "First(two slow replicas, one fast) returned an error, want the fast answer")
	require.Equal(t, "fast", got, "First() = %q, want the fast replica's answer", got)
	require.Less(t, elapsed, slowDelay/2,
		"First() took %v; it must return as soon as one replica answers, not wait for the slow ones", elapsed)
	tr.requireIdle(t)
}

func TestCancelWaitsForLosers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	l := newLingerer()
	defer l.stop()
	fast := func(context.Context, string) (string, error) { return "fast", nil }
	replicas := []Replica{l.replica(nil), fast, l.replica(nil)}

	got, err := first(t, context.Background(), replicas)
	returned := l.returned.Load() // before the test ends the losers' cleanup
	l.stop()

	require.NoError(t, err, "First(one fast replica, two slow) returned an error, want the fast answer")
	require.Equal(t, "fast", got, "First() = %q, want the fast replica's answer", got)
	require.EqualValues(t, 2, l.cancelled.Load(),
		"First() returned the fast answer, but %d of the 2 slower replicas saw their ctx cancelled, want both: cancel the losers so they stop working for nobody",
		l.cancelled.Load())
	require.EqualValues(t, 2, returned,
		"First() returned while %d of the 2 cancelled replicas were still cleaning up: after cancelling, wait for every goroutine it started (a caller who left must leave nothing running behind)",
		2-returned)
}

// On one CPU (a container limited to one core), the goroutines First starts may not have run at all when
// the first answer arrives. A First that counts its goroutines only once they run (wg.Add inside the
// goroutine) then waits for none of them, and they call their replica after First has returned. The
// scheduler decides which goroutine runs first, so the test repeats; each round is quick.
func TestCancelNoCallAfterReturn(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const losers, rounds = 8, 100
	for round := range rounds {
		before := goleak.IgnoreCurrent()
		var tr tracker
		var calls atomic.Int64
		counted := func(r Replica) Replica {
			return func(ctx context.Context, key string) (string, error) {
				calls.Add(1)
				return r(ctx, key)
			}
		}
		// The fast replica comes last: its goroutine, started last, is the likeliest to run first.
		replicas := make([]Replica, 0, losers+1)
		for range losers {
			replicas = append(replicas, counted(tr.slow()))
		}
		replicas = append(replicas, counted(tr.answer("fast", 0)))

		got, err := first(t, context.Background(), replicas)
		atReturn, active := calls.Load(), tr.active.Load()
		// Let any goroutine First left behind run to its end, then see whether it called a replica.
		require.NoError(t, goleak.Find(before), "goroutines still running after First returned (round %d)", round+1)
		later := calls.Load()

		require.NoError(t, err, "First(%d slow replicas and a fast one) returned an error, want the fast answer", losers)
		require.Equal(t, "fast", got, "First() = %q, want the fast replica's answer", got)
		require.Zero(t, active, "First() returned while %d replica calls were still running (round %d), want 0", active, round+1)
		require.Equal(t, atReturn, later,
			"%d replica calls started after First() had returned (round %d), want 0: count every goroutine before it starts (wg.Add before go, or wg.Go) and wait for all of them, including those that had not run yet when the answer came",
			later-atReturn, round+1)
	}
}

// The replicas work for the caller: they must see the caller's deadline and request-scoped values
// (a request id for the logs, the caller's identity), so their ctx must derive from First's ctx.
func TestCancelReplicasGetCallersCtx(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	type requestID struct{}
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), requestID{}, "req-42"), deadline)
	defer cancel()
	var calls, withValue, withDeadline atomic.Int64
	replica := func(val string, delay time.Duration) Replica {
		return func(ctx context.Context, key string) (string, error) {
			calls.Add(1)
			if ctx.Value(requestID{}) == "req-42" {
				withValue.Add(1)
			}
			if d, ok := ctx.Deadline(); ok && d.Equal(deadline) {
				withDeadline.Add(1)
			}
			select {
			case <-time.After(delay):
				return val, nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}

	got, err := first(t, ctx, []Replica{replica("slow", slowDelay), replica("fast", 0)})

	require.NoError(t, err, "First(one slow replica, one fast) returned an error, want the fast answer")
	require.Equal(t, "fast", got, "First() = %q, want the fast replica's answer", got)
	// A First may skip a replica it has not called yet once the answer is in; every call it makes counts.
	n := calls.Load()
	require.Positive(t, n, "First() answered %q without calling a replica", got)
	require.Equal(t, n, withValue.Load(),
		"%d of the %d replica calls saw the caller's request values, want all: derive the replicas' ctx from First's ctx (context.WithCancel(ctx)), not from context.Background()",
		withValue.Load(), n)
	require.Equal(t, n, withDeadline.Load(),
		"%d of the %d replica calls saw the caller's deadline, want all: derive the replicas' ctx from First's ctx, so the deadline reaches every call",
		withDeadline.Load(), n)
}

// slowDone is a context whose Done takes a moment to answer. By the time First's select looks at it, a
// replica that fails at once has already sent its result, so a result and ctx.Done are ready together.
type slowDone struct{ context.Context }

func (c slowDone) Done() <-chan struct{} {
	time.Sleep(time.Millisecond)
	return c.Context.Done()
}

// A caller whose deadline has already passed, and a replica that fails at once with its own error
// (a refused connection): both "ctx is done" and "every replica failed" are true, and the deadline is
// still the cause. select picks at random between them, so rounds make a lucky pass practically impossible.
func TestCancelExpiredDeadlineWithFailingReplica(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	errRefused := errors.New("replica: connection refused")
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	refuse := func(context.Context, string) (string, error) { return "", errRefused }
	const rounds = 40
	for round := range rounds {
		_, err := first(t, slowDone{ctx}, []Replica{refuse})

		require.ErrorIs(t, err, context.DeadlineExceeded,
			"First() with an expired deadline and a replica that failed with its own error: error = %v in round %d, want one wrapping context.DeadlineExceeded: when every replica failed, check ctx.Err() before blaming the replicas",
			err, round+1)
	}
}

func TestCancelSkipsFailures(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	replicas := []Replica{tr.fail(errors.New("replica down"), 0), tr.answer("ok", 20*time.Millisecond)}

	got, err := first(t, context.Background(), replicas)

	require.NoError(t, err, "First() must skip a failed replica and wait for one that answers")
	require.Equal(t, "ok", got, "First() = %q, want %q", got, "ok")
	tr.requireIdle(t)
}

func TestCancelAllFail(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	errA, errB := errors.New("replica a down"), errors.New("replica b down")

	_, err := first(t, context.Background(), []Replica{tr.fail(errA, 0), tr.fail(errB, 5*time.Millisecond)})

	require.Error(t, err, "First() with every replica failing must return an error")
	require.ErrorIs(t, err, errA, "First() error = %v, want it to wrap every replica's error (errors.Join)", err)
	require.ErrorIs(t, err, errB, "First() error = %v, want it to wrap every replica's error (errors.Join)", err)
	tr.requireIdle(t)
}

func TestCancelNoReplicas(t *testing.T) {
	_, err := first(t, context.Background(), nil)
	require.ErrorIs(t, err, ErrNoReplicas, "First(nil) error = %v, want ErrNoReplicas", err)
}

func TestCancelCallerDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	const deadline = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	start := time.Now()
	_, err := first(t, ctx, []Replica{tr.slow(), tr.slow()})
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.DeadlineExceeded, "First() past the caller's deadline: error = %v, want one wrapping context.DeadlineExceeded", err)
	require.Less(t, elapsed, slowDelay/2,
		"First() returned %v after a %v deadline; stop waiting when ctx is done", elapsed, deadline)
	tr.requireIdle(t)
}

// Replicas cut off by cancellation often fail with an error of their own ("connection closed",
// "stream reset") rather than ctx.Err(). The caller's deadline is still the cause, and callers decide
// on it (the handler answers 504), so First must say so.
func TestCancelDeadlineWithReplicaErrors(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	l := newLingerer()
	defer l.stop()
	errAborted := errors.New("replica: connection closed")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()

	_, err := first(t, ctx, []Replica{l.replica(errAborted), l.replica(errAborted)})
	returned := l.returned.Load()
	l.stop()

	require.ErrorIs(t, err, context.DeadlineExceeded,
		"First() past the caller's deadline, with replicas that fail with their own error once cancelled: error = %v, want one wrapping context.DeadlineExceeded: the deadline is the cause, so check ctx before blaming the replicas",
		err)
	require.EqualValues(t, 2, returned,
		"First() returned on the deadline while %d of the 2 replicas were still cleaning up: wait for every goroutine it started, on this path too",
		2-returned)
}

// A caller who goes away (the client closed the connection) cancels ctx: that is not a deadline, and
// the handler tells them apart (499 in the access log, not 504), so First must report ctx.Err() as it is.
func TestCancelCallerCancels(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{}, 2)
	slow := func(ctx context.Context, key string) (string, error) {
		started <- struct{}{}
		return tr.slow()(ctx, key)
	}
	go func() {
		<-started
		cancel()
	}()

	_, err := first(t, ctx, []Replica{slow, slow})

	require.ErrorIs(t, err, context.Canceled,
		"First() after the caller cancelled: error = %v, want one wrapping context.Canceled: return ctx.Err(), wrapped, not an error of your choosing", err)
	require.NotErrorIs(t, err, context.DeadlineExceeded,
		"First() after the caller cancelled (no deadline): error = %v, want it not to wrap context.DeadlineExceeded: the caller left, no deadline passed", err)
	tr.requireIdle(t)
}

func TestCancelHandlerDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var tr tracker
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/?key=k", nil)
	rec := httptest.NewRecorder()

	returnsWithin(t, "the handler", func() { Handler(tr.slow(), tr.slow()).ServeHTTP(rec, req) })

	require.Equal(t, http.StatusGatewayTimeout, rec.Code,
		"GET with an expired request deadline: status = %d, want 504 (First must return an error wrapping ctx.Err())", rec.Code)
	tr.requireIdle(t)
}
