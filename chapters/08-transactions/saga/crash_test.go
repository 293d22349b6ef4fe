package saga_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/saga"
)

// TestSagaResumesAfterCrashAtEveryPoint kills the orchestrator's process at every point of a checkout, in
// three scenarios: just before each call to a service and right after each call was applied (the process
// never saw the reply). From then on the dead process has no effect: its calls fail and its database
// connections refuse every statement. A new process, knowing only what is in MySQL, runs ResumeAll. Each
// time the end must be whole (everything done, or everything undone) and no step recorded as done may run
// again: only the call the crash interrupted may be repeated (the services are idempotent, so that is safe).
func TestSagaResumesAfterCrashAtEveryPoint(t *testing.T) {
	scenarios := []struct {
		name   string
		failOp string
		err    error
		want   saga.Status
	}{
		{"everything works", "", nil, saga.StatusDone},
		{"shipping fails after the charge", "ship", errNoRoute, saga.StatusCompensated},
		{"card declined", "charge", errDeclined, saga.StatusCompensated},
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
		st, err := start(t, clean.orchestrator(t), sc.name+"/no crash")
		require.NoError(t, err, "%s without a crash", sc.name)
		require.Equal(t, sc.want, st, "%s without a crash", sc.name)
		calls := clean.calls

		for at := 1; at <= calls; at++ {
			for _, after := range []bool{false, true} {
				c := crash{at: at, after: after}
				points++
				order := fmt.Sprintf("%s/%d/%v", sc.name, at, after)
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
