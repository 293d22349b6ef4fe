package saga_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	r := &recorder{fail: map[string][]error{"do B": repeat(errTimeout, 3)}}
	o := newOrchestrator(t, r.steps("A", "B", "C"))
	st, err := start(t, o, "s1")
	require.NoError(t, err)
	require.Equal(t, saga.StatusDone, st,
		"B timed out 3 times, then succeeded: a timeout is not an answer, so retry it; compensating would "+
			"cancel orders that would have gone through")
	require.Equal(t, []string{"do A", "do B", "do B", "do B", "do B", "do C"}, r.calls())
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
