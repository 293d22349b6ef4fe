package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// errNotConcurrent means a fake waited for its siblings to start and they never did.
var errNotConcurrent = errors.New("the other backend calls never started: they must run at the same time, not one after another")

// errNeverCancelled means a blocked call waited stuckFor and its ctx never ended.
var errNeverCancelled = errors.New("this call's ctx was never cancelled: pass the errgroup's ctx to every call")

// stuckFor is far longer than any test needs: a blocked call normally ends through its ctx, and only
// a call whose ctx is never cancelled gives up after it. holdFor is how long a cancelled call takes to
// clean up when the fake lingers, unless the test ends the cleanup because Load has returned. A Load
// that waits for every call therefore returns after about holdFor with every call done; one that does
// not returns while they still run, and the test sees it without depending on scheduling.
const (
	stuckFor = 3 * time.Second
	holdFor  = time.Second
)

// step is how one fake call behaves.
type step struct {
	delay time.Duration // answer after delay
	err   error         // then fail with err instead of answering
	block bool          // never answer: end only when ctx is done
}

// fake is a Backends whose calls follow their steps. With meet set, every call first waits until all
// three calls have started, which only a concurrent Load can satisfy. With linger set, a cancelled call
// cleans up for up to holdFor before it returns.
type fake struct {
	user, orders, balance step
	meet, linger          bool
	release               chan struct{} // closed by stop: ends the cleanups early
	once                  sync.Once

	started   sync.WaitGroup
	active    atomic.Int64
	cancelled atomic.Int64 // calls that ended because their ctx was done
}

func newFake() *fake {
	f := &fake{release: make(chan struct{})}
	f.started.Add(3)
	return f
}

func (f *fake) stop() { f.once.Do(func() { close(f.release) }) }

// cancelledBy records that ctx ended the call, lingers if asked to, and returns ctx's error.
func (f *fake) cancelledBy(ctx context.Context) error {
	f.cancelled.Add(1)
	if f.linger {
		select {
		case <-f.release:
		case <-time.After(holdFor):
		}
	}
	return ctx.Err()
}

func (f *fake) run(ctx context.Context, s step) error {
	f.active.Add(1)
	defer f.active.Add(-1)
	f.started.Done()
	if f.meet {
		all := make(chan struct{})
		go func() { f.started.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(time.Second):
			return errNotConcurrent
		}
	}
	wait := s.delay
	if s.block {
		wait = stuckFor
	}
	select {
	case <-time.After(wait):
		if s.block {
			return errNeverCancelled
		}
		return s.err
	case <-ctx.Done():
		return f.cancelledBy(ctx)
	}
}

func (f *fake) User(ctx context.Context, id string) (User, error) {
	if err := f.run(ctx, f.user); err != nil {
		return User{}, fmt.Errorf("user %s: %w", id, err)
	}
	return User{ID: id, Name: "Ada"}, nil
}

func (f *fake) Orders(ctx context.Context, id string) ([]Order, error) {
	if err := f.run(ctx, f.orders); err != nil {
		return nil, fmt.Errorf("orders of %s: %w", id, err)
	}
	return []Order{{ID: "o1", TotalCents: 1250}}, nil
}

func (f *fake) BalanceCents(ctx context.Context, id string) (int64, error) {
	if err := f.run(ctx, f.balance); err != nil {
		return 0, fmt.Errorf("balance of %s: %w", id, err)
	}
	return 4200, nil
}

func TestFanoutConcurrent(t *testing.T) {
	f := newFake()
	f.meet = true
	f.user, f.orders, f.balance = step{delay: time.Millisecond}, step{delay: 2 * time.Millisecond}, step{}

	got, err := Load(context.Background(), f, "u1")

	require.NoError(t, err, "Load() with three healthy backends returned an error, want a Dashboard")
	want := Dashboard{User: User{ID: "u1", Name: "Ada"}, Orders: []Order{{ID: "o1", TotalCents: 1250}}, BalanceCents: 4200}
	require.Equal(t, want, got, "Load() = %+v, want %+v", got, want)
	require.Zero(t, f.active.Load(), "backend calls still running after Load returned")
}

func TestFanoutWaitsForSiblings(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	errOrders := errors.New("orders service down")
	f := newFake()
	f.linger = true
	defer f.stop()
	f.user, f.orders, f.balance = step{block: true}, step{delay: 10 * time.Millisecond, err: errOrders}, step{block: true}

	_, err := Load(context.Background(), f, "u1")
	active := f.active.Load() // before the test ends the siblings' cleanup
	f.stop()

	require.ErrorIs(t, err, errOrders, "Load() error = %v, want the first failure (orders)", err)
	require.Zero(t, active,
		"Load() returned while %d cancelled sibling calls were still cleaning up, want 0: wait for every call (g.Wait) before returning, errors included",
		active)
}

func TestFanoutFirstErrorCancelsSiblings(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	errOrders := errors.New("orders service down")
	f := newFake()
	f.user, f.orders, f.balance = step{block: true}, step{delay: 10 * time.Millisecond, err: errOrders}, step{block: true}
	// A safety net only: the siblings must end long before this, through the group's cancellation.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	start := time.Now()
	_, err := Load(ctx, f, "u1")
	elapsed := time.Since(start)

	require.ErrorIs(t, err, errOrders, "Load() error = %v, want the first failure (orders), not a sibling's cancellation", err)
	require.Less(t, elapsed, time.Second,
		"Load() took %v after orders failed at 10ms: the first error must cancel the other calls (pass the errgroup's ctx to each call)", elapsed)
	require.NotErrorIs(t, err, context.Canceled,
		"Load() error = %v, want only the first failure (orders): the siblings' context.Canceled is a consequence, not a cause; return the first error, not all of them joined", err)
	require.EqualValues(t, 2, f.cancelled.Load(),
		"%d of the 2 sibling calls had seen their ctx cancelled when Load returned, want both: pass the errgroup's ctx to every call, and wait for every call", f.cancelled.Load())
	require.Zero(t, f.active.Load(), "backend calls still running after Load returned")
}

func TestFanoutDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFake()
	f.user, f.orders, f.balance = step{block: true}, step{block: true}, step{delay: time.Millisecond}
	const deadline = 80 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	start := time.Now()
	_, err := Load(ctx, f, "u1")
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.DeadlineExceeded, "Load() past the deadline: error = %v, want one wrapping context.DeadlineExceeded", err)
	require.Less(t, elapsed, deadline+time.Second, "Load() returned %v after a %v deadline", elapsed, deadline)
	require.Zero(t, f.active.Load(), "backend calls still running after Load returned")
}
