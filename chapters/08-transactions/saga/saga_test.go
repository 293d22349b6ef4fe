package saga_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/lockwait"
	"github.com/gomicrolab/microlab/chapters/08-transactions/saga"
)

// TestSagaNaiveBaselineLosesMoney is the demonstration the chapter starts from. It passes on the starter: it
// proves the problem, not your code. NaiveCheckout charges, then shipping fails for good, and nobody refunds.
// `go test -v -run NaiveBaseline ./08-transactions/saga` prints the damage.
func TestSagaNaiveBaselineLosesMoney(t *testing.T) {
	w := newWorld()
	w.failN("ship", 1, errNoRoute)
	err := saga.NaiveCheckout(context.Background(), &proc{w: w}, "o1")
	require.ErrorIs(t, err, saga.ErrBusiness)
	balance, _, shipped, log := w.snapshot()
	require.False(t, shipped)
	require.Equal(t, startBalance-price, balance, "the naive checkout keeps the money of an order it never shipped")
	t.Logf("NaiveCheckout: calls %v, error %q: balance %d -> %d, nothing shipped, no refund. %d lost.",
		log, err, startBalance, balance, startBalance-balance)
}

// recorder builds steps that log every action and compensation, and fail as the test says.
type recorder struct {
	mu   sync.Mutex
	log  []string
	fail map[string][]error // "do B" / "undo B" -> errors returned by its next calls, in order
}

func (r *recorder) call(what string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, what)
	if errs := r.fail[what]; len(errs) > 0 {
		r.fail[what] = errs[1:]
		return errs[0]
	}
	return nil
}

func (r *recorder) steps(names ...string) []saga.Step {
	var steps []saga.Step
	for _, n := range names {
		steps = append(steps, saga.Step{
			Name:       n,
			Action:     func(context.Context, string) error { return r.call("do " + n) },
			Compensate: func(context.Context, string) error { return r.call("undo " + n) },
		})
	}
	return steps
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func newOrchestrator(t *testing.T, steps []saga.Step) *saga.Orchestrator {
	t.Helper()
	_, db := newDB(t)
	o, err := saga.New(db, steps)
	require.NoError(t, err, "saga.New with a valid definition")
	require.Positive(t, o.Backoff, "New must set a default Backoff: with zero, a failing call is retried in a busy loop")
	o.Backoff = time.Millisecond
	return o
}

// start runs Start with a deadline, so that an orchestrator that never ends fails the test with a reason.
func start(t *testing.T, o *saga.Orchestrator, id string) (saga.Status, error) {
	t.Helper()
	// A correct saga here finishes in milliseconds; 20 s is for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := o.Start(ctx, id)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start(%s) did not finish within 20 s: a step or compensation kept being retried (%v)", id, err)
	}
	if hint := lockwait.Explain(err); hint != "" {
		t.Fatalf("Start(%s) = %v%s", id, err, hint)
	}
	return st, err
}

func TestSagaIrreversibleStepMustBeLast(t *testing.T) {
	_, db := newDB(t)
	r := &recorder{}
	ok := r.steps("A", "B", "C")
	ok[2].Compensate = nil
	_, err := saga.New(db, ok)
	require.NoError(t, err, "New with the only irreversible step last: that is the pivot, it is allowed")

	bad := r.steps("A", "B", "C")
	bad[1].Compensate = nil
	_, err = saga.New(db, bad)
	require.ErrorIs(t, err, saga.ErrIrreversibleNotLast,
		"New(A, B without compensation, C) must refuse: if C failed, B could not be undone")
}

func TestSagaRunsEveryStepInOrder(t *testing.T) {
	r := &recorder{}
	o := newOrchestrator(t, r.steps("A", "B", "C"))
	st, err := start(t, o, "s1")
	require.NoError(t, err)
	require.Equal(t, saga.StatusDone, st)
	require.Equal(t, []string{"do A", "do B", "do C"}, r.calls())
}

func TestSagaCompensatesInReverseOrder(t *testing.T) {
	r := &recorder{fail: map[string][]error{"do D": {fmt.Errorf("out of stock: %w", saga.ErrBusiness)}}}
	o := newOrchestrator(t, r.steps("A", "B", "C", "D", "E"))
	st, err := start(t, o, "s1")
	require.NoError(t, err, "a business failure is a normal end of a saga, not an error of Start")
	require.Equal(t, saga.StatusCompensated, st)
	require.Equal(t, []string{"do A", "do B", "do C", "do D", "undo C", "undo B", "undo A"}, r.calls(),
		"D failed for a business reason: undo the done steps C, B, A in reverse order (each undo may rely on "+
			"the state the later steps left), once each; D rolled back by itself and E never runs")
}

func TestSagaTransientErrorsAreRetriedNotCompensated(t *testing.T) {
	const k = 300 // far more timeouts than any fixed retry limit a learner might pick (3, 10, 100)
	r := &recorder{fail: map[string][]error{"do B": repeat(errTimeout, k)}}
	o := newOrchestrator(t, r.steps("A", "B", "C"))
	st, err := start(t, o, "s1")
	require.NoError(t, err)
	calls := r.calls()
	if st != saga.StatusDone {
		t.Fatalf("Start(s1) = %s after %d calls (the last ones %v); want %s: B timed out %d times, then succeeded. "+
			"A timeout is not an answer (the call may have happened), so retry it as long as it takes; giving up "+
			"and compensating would cancel orders that would have gone through", st, len(calls),
			calls[max(0, len(calls)-4):], saga.StatusDone, k)
	}
	want := []string{"do A"}
	for range k + 1 {
		want = append(want, "do B")
	}
	want = append(want, "do C")
	require.Equal(t, want, calls, "A once, B %d times (%d timeouts, then success), C once, nothing undone", k+1, k)
}

// TestSagaCompensationThatNeverSucceedsStaysCompensating: undo A fails every time. The orchestrator must
// keep retrying it until its ctx ends, and leave the saga compensating at step 1 (A still to undo), so that
// a resume goes on with it. The test ends the ctx itself after many failures: no clock decides the outcome.
func TestSagaCompensationThatNeverSucceedsStaysCompensating(t *testing.T) {
	const k = 500 // far more failures than any fixed retry limit a learner might pick (10, 100)
	_, db := newDB(t)
	// k retries with a 1 ms backoff take about a second; 60 s is for a loaded machine.
	const bound = 60 * time.Second
	ctx, stop := context.WithTimeout(context.Background(), bound)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &recorder{fail: map[string][]error{"do C": {errDeclined}}}
	steps := r.steps("A", "B", "C")
	var undoA atomic.Int32
	steps[0].Compensate = func(context.Context, string) error {
		r.call("undo A")
		if undoA.Add(1) == k {
			cancel() // the process is shutting down: Start must give up now, and only now
		}
		return errTimeout
	}
	o, err := saga.New(db, steps)
	require.NoError(t, err, "saga.New with a valid definition")
	o.Backoff = time.Millisecond

	st, err := o.Start(ctx, "s1")
	if errors.Is(err, context.DeadlineExceeded) {
		if n := undoA.Load(); n < k {
			t.Fatalf("Start(s1) = %v: the test's %v bound ran out after only %d calls of undo A (it cancels ctx at "+
				"call %d): retry a failed compensation after o.Backoff, not a longer wait", err, bound, n, k)
		}
		t.Fatalf("Start(s1) did not return when its ctx was cancelled (at call %d of undo A), but only at the "+
			"test's %v bound: the retry loop must select on ctx.Done() (%v)", k, bound, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start(s1) while undo A fails every time = %q, %v after %d calls of undo A; want an error wrapping "+
			"context.Canceled once ctx is cancelled (after call %d): a compensation has no 'no', so it is retried "+
			"until it succeeds or the process stops. Giving up and calling the saga compensated keeps the money "+
			"that undo A should have given back", st, err, undoA.Load(), k)
	}
	state, step, err := saga.Load(context.Background(), db, "s1")
	require.NoError(t, err, "Load(s1)")
	if state != saga.StatusCompensating || step != 1 {
		t.Fatalf("Load(s1) after Start was stopped in undo A = %s, step %d; want %s, step 1: B was undone and A "+
			"was not, and the log is what a resume continues from", state, step, saga.StatusCompensating)
	}
}

func TestSagaFailingCompensationKeepsRetrying(t *testing.T) {
	const k = 25 // far more failures than any fixed retry limit a learner might pick
	r := &recorder{fail: map[string][]error{
		"do C":   {fmt.Errorf("declined: %w", saga.ErrBusiness)},
		"undo A": repeat(errTimeout, k),
		"undo B": {fmt.Errorf("a compensation has no 'no': %w", saga.ErrBusiness), errTimeout},
	}}
	o := newOrchestrator(t, r.steps("A", "B", "C"))
	st, err := start(t, o, "s1")
	require.NoError(t, err)
	require.Equal(t, saga.StatusCompensated, st,
		"undo A failed %d times before it worked: a compensation must be retried until it succeeds, or the "+
			"saga stops half undone", k)
	calls := r.calls()
	undoA := 0
	for _, c := range calls {
		if c == "undo A" {
			undoA++
		}
	}
	require.Equal(t, k+1, undoA, "calls of undo A: %v", calls)
	require.Equal(t, []string{"do A", "do B", "do C", "undo B", "undo B", "undo B", "undo A"}, calls[:7],
		"undo B failed twice (once even with ErrBusiness) and must be retried until it succeeds, before undo A")
}

func TestSagaCheckoutNoMoneyLost(t *testing.T) {
	tests := []struct {
		name        string
		failOp      string
		err         error
		want        saga.Status
		wantBalance int
		wantStock   int
		wantShipped bool
	}{
		{"everything works", "", nil, saga.StatusDone, startBalance - price, startStock - 1, true},
		{"shipping fails after the charge", "ship", errNoRoute, saga.StatusCompensated, startBalance, startStock, false},
		{"card declined", "charge", errDeclined, saga.StatusCompensated, startBalance, startStock, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, _ := newDB(t)
			w := newWorld()
			if tt.failOp != "" {
				w.failN(tt.failOp, 1000, tt.err)
			}
			p := newProc(t, w, dsn, crash{})
			st, err := start(t, p.orchestrator(t), "o1")
			require.NoError(t, err)
			require.Equal(t, tt.want, st)
			balance, stock, shipped, log := w.snapshot()
			require.Equal(t, tt.wantBalance, balance, "balance after checkout; calls %v", log)
			require.Equal(t, tt.wantStock, stock, "stock after checkout; calls %v", log)
			require.Equal(t, tt.wantShipped, shipped,
				"shipped after checkout (ship is the one step that cannot be undone: it must run last); calls %v", log)
		})
	}
}

func TestSagaStartTwiceRunsOnce(t *testing.T) {
	r := &recorder{}
	o := newOrchestrator(t, r.steps("A", "B"))
	st, err := start(t, o, "s1")
	require.NoError(t, err)
	require.Equal(t, saga.StatusDone, st)
	// The client did not see the answer and sends the same checkout again.
	st, err = start(t, o, "s1")
	require.NoError(t, err, "Start of a saga id that already finished: a retried request must not fail")
	require.Equal(t, saga.StatusDone, st, "Start of a finished saga returns how it ended")
	require.Equal(t, []string{"do A", "do B"}, r.calls(),
		"a second Start of the same id must continue that saga (here: nothing left to do), not run it again")
}

func TestSagaResumeAllFinishesEverySaga(t *testing.T) {
	_, db := newDB(t)
	var (
		mu     sync.Mutex
		calls  = map[string]int{}
		cancel context.CancelFunc
	)
	step := func(name string) func(context.Context, string) error {
		return func(_ context.Context, id string) error {
			mu.Lock()
			defer mu.Unlock()
			calls[name+" "+id]++
			if name == "B" && calls[name+" "+id] == 1 {
				cancel() // the process stops while B is in flight
				return errTimeout
			}
			return nil
		}
	}
	steps := []saga.Step{
		{Name: "A", Action: step("A"), Compensate: step("undo A")},
		{Name: "B", Action: step("B"), Compensate: step("undo B")},
	}
	o, err := saga.New(db, steps)
	require.NoError(t, err)
	o.Backoff = time.Millisecond
	ids := []string{"s1", "s2", "s3"}
	for _, id := range ids {
		ctx, c := context.WithCancel(context.Background())
		mu.Lock()
		cancel = c
		mu.Unlock()
		_, err := o.Start(ctx, id)
		c()
		require.Error(t, err, "Start(%s) whose context ended while B was retried must return an error", id)
	}
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	n, err := o.ResumeAll(ctx)
	require.NoError(t, err, "ResumeAll")
	require.Equal(t, len(ids), n, "ResumeAll with %d unfinished sagas must finish them all", len(ids))
	for _, id := range ids {
		state, _, err := saga.Load(context.Background(), db, id)
		require.NoError(t, err)
		require.Equal(t, saga.StatusDone, state, "saga %s after ResumeAll", id)
	}
}

// TestSagaResumesAfterCrashAtEveryPoint kills the orchestrator's process at every point of a checkout, in
// three scenarios: just before each call to a service and right after each call was applied (the process
// never saw the reply). From then on the dead process has no effect: its calls fail and its database
// connections refuse every statement. A new process, knowing only what is in MySQL, runs ResumeAll. Each
// time the end must be whole (everything done, or everything undone) and no step recorded as done may run
// again: only the call the crash interrupted may be repeated (the services are idempotent, so that is safe).
func TestSagaResumesAfterCrashAtEveryPoint(t *testing.T) {
	scenarios := []struct {
		name   string
		key    string // for order ids
		failOp string
		err    error
		want   saga.Status
	}{
		{"everything works", "ok", "", nil, saga.StatusDone},
		{"shipping fails after the charge", "noship", "ship", errNoRoute, saga.StatusCompensated},
		{"card declined", "declined", "charge", errDeclined, saga.StatusCompensated},
	}
	dsn, db := newDB(t)
	points := 0
	for _, sc := range scenarios {
		newScenarioWorld := func() *world {
			w := newWorld()
			if sc.failOp != "" {
				w.failN(sc.failOp, 1_000_000, sc.err)
			}
			return w
		}
		// The run without a crash says how many calls there are, and so how many crash points.
		clean := newProc(t, newScenarioWorld(), dsn, crash{})
		st, err := start(t, clean.orchestrator(t), sc.key+"-nocrash")
		require.NoError(t, err, "%s without a crash", sc.name)
		require.Equal(t, sc.want, st, "%s without a crash", sc.name)
		calls := clean.calls

		for at := 1; at <= calls; at++ {
			for _, after := range []bool{false, true} {
				c := crash{at: at, after: after}
				points++
				order := fmt.Sprintf("%s-%d-before", sc.key, at)
				if after {
					order = fmt.Sprintf("%s-%d-after", sc.key, at)
				}
				where := fmt.Sprintf("%s, crash %s", sc.name, c)
				w := newScenarioWorld()

				p1 := newProc(t, w, dsn, c)
				o1 := p1.orchestrator(t)
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = o1.Start(p1.ctx, order) // whatever a dead process returns does not matter
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second): // it returns in milliseconds; 10 s is for a loaded machine
					t.Fatalf("%s: Start still running 10 s after its process crashed (its context is cancelled, every "+
						"call and statement fails): stop retrying when ctx is done", where)
				}
				require.True(t, p1.dead.Load(), "%s: the crash point was never reached (%d calls)", where, p1.calls)
				_, _, _, before := w.snapshot()

				p2 := newProc(t, w, dsn, crash{})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				_, err := p2.orchestrator(t).ResumeAll(ctx)
				cancel()
				require.NoError(t, err, "%s: ResumeAll in a new process", where)

				balance, stock, shipped, log := w.snapshot()
				state, _, err := saga.Load(context.Background(), db, order)
				if errors.Is(err, saga.ErrNotFound) {
					require.True(t, balance == startBalance && stock == startStock && !shipped,
						"%s: no saga %s in the log, but the services did something (calls %v): a crash between a "+
							"call and the write that records the saga leaves it unfinished, and nobody will ever "+
							"resume it. Record the saga before its first call.", where, order, log)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, sc.want, state, "%s: state after ResumeAll; calls %v", where, log)
				wantBalance, wantStock := startBalance, startStock
				if sc.want == saga.StatusDone {
					wantBalance, wantStock = startBalance-price, startStock-1
				}
				require.Equal(t, wantBalance, balance, "%s: balance after ResumeAll; calls %v", where, log)
				require.Equal(t, wantStock, stock, "%s: stock after ResumeAll; calls %v", where, log)
				require.Equal(t, sc.want == saga.StatusDone, shipped, "%s: shipped after ResumeAll; calls %v", where, log)

				interrupted := ""
				if after {
					interrupted = before[len(before)-1] // the call applied just before the crash
				}
				counts := map[string]int{}
				for _, l := range log {
					counts[l]++
				}
				for call, n := range counts {
					limit := 1
					if call == interrupted {
						limit = 2
					}
					require.LessOrEqual(t, n, limit,
						"%s: %q reached its service %d times (calls before the crash %v, all calls %v). Only "+
							"the call the crash interrupted may be repeated: a step (or undo) that the log recorded "+
							"as done must not run again. Resume from the step and state in the saga row, and "+
							"record each step's end before the next call.", where, call, n, before, log)
				}
			}
		}
	}
	t.Logf("crashed the orchestrator at %d points (before and after each service call of 3 scenarios); "+
		"each resumed to a whole end", points)
}
