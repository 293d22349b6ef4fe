package cancel

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
