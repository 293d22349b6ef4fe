package txmsg_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/crashdb"
	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/lockwait"
	"github.com/gomicrolab/microlab/chapters/08-transactions/txmsg"
)

// TestTxMsgCommitPublishesOnce places an order and checks the order of events from outside: the server heard
// of the message before the order was committed, and was told to deliver it only after.
func TestTxMsgCommitPublishesOnce(t *testing.T) {
	e := newEnv(t)
	var violations []string
	e.msgs.beforePrepare = func(m txmsg.Msg) error {
		if e.orderExists("o-1") {
			violations = append(violations, "Prepare came after the order was committed: a crash between the "+
				"commit and Prepare loses the message for good (nobody will ever back-check it). Prepare first")
		}
		return nil
	}
	e.msgs.beforeSubmit = func(gid string) error {
		if !e.orderExists("o-1") {
			violations = append(violations, "Submit came while the order was not committed (not visible to "+
				"other sessions): if the commit then fails, the message is out and the order is not. Submit "+
				"after Commit")
		}
		return nil
	}
	err := e.svc.PlaceOrder(context.Background(), e.topic, txmsg.Order{ID: "o-1", UserID: 7, Total: 100})
	calls, inFlight := e.msgs.snapshot() // at once: nothing may still be running on the business's behalf
	require.NoError(t, err, "PlaceOrder(o-1)%s", lockwait.Explain(err))
	if !slices.Contains(calls, "Submit order-o-1") || inFlight != 0 {
		t.Fatalf("when PlaceOrder returned, its calls to the message server were %v, %d of them still running; "+
			"want Prepare and Submit, both returned: Submit before DoAndSubmit returns, not in the background "+
			"(the caller's context may be gone by then, and every message would wait for the back-check)",
			calls, inFlight)
	}
	require.Empty(t, violations, "calls to the message server: %v", calls)
	require.True(t, e.orderExists("o-1"), "order o-1 after PlaceOrder returned nil")
	if st := e.state("order-o-1"); st != txmsg.StatePublished {
		t.Fatalf("State(order-o-1) after PlaceOrder = %s, want %s: a committed transaction Submits its message "+
			"(calls %v)", st, txmsg.StatePublished, calls)
	}
	e.check()
	e.check()
	require.EqualValues(t, 1, e.published(), "records on the topic after PlaceOrder and two checker runs")
	r := e.records(1)[0]
	require.Equal(t, "o-1", string(r.Key), "record key")
	require.JSONEq(t, `{"id":"o-1","user_id":7,"total":100}`, string(r.Value), "record value")
}

func TestTxMsgBusinessErrorSendsNothing(t *testing.T) {
	failAfterWrite := func(ctx context.Context, e *env) error {
		return e.svc.DoAndSubmit(ctx, e.msg("g-1"), func(tx *sql.Tx) error {
			if err := insertOrder(ctx, "o-1")(tx); err != nil {
				return err
			}
			return errBusiness // after a write: the write must roll back too
		})
	}
	for _, tc := range []struct {
		name      string
		gid       string
		loseAbort bool // the Abort request is lost: the back-check alone must drop the message
		business  func(ctx context.Context, e *env) error
	}{
		{"the business step fails", "g-1", false, failAfterWrite},
		{"the business step fails and the Abort is lost", "g-1", true, failAfterWrite},
		{"PlaceOrder refuses an invalid order", "order-o-1", false, func(ctx context.Context, e *env) error {
			return e.svc.PlaceOrder(ctx, e.topic, txmsg.Order{ID: "o-1", UserID: 7, Total: -5})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.loseAbort {
				e.msgs.beforeAbort = func(string) error { return errLost }
			}
			logged := captureLog(t)
			err := tc.business(context.Background(), e)
			if tc.loseAbort && !strings.Contains(logged.String(), tc.gid) {
				t.Fatalf("log after an Abort that failed = %q, want a line naming %s: the caller gets the business error, "+
					"so the log is where an operator learns that the message now waits for the back-check", logged.String(), tc.gid)
			}
			if !errors.Is(err, errBusiness) && !errors.Is(err, txmsg.ErrInvalidOrder) {
				t.Fatalf("DoAndSubmit with a failing business step = %v, want the business error (wrapped with %%w)%s",
					err, lockwait.Explain(err))
			}
			require.False(t, e.orderExists("o-1"), "order o-1 after its business step failed: the local transaction rolls back")
			require.Zero(t, e.published(), "records on the topic right after the business failed")
			e.check() // the checker may still see the message prepared; its back-check must say RolledBack
			e.check()
			if n := e.published(); n != 0 {
				t.Fatalf("records on the topic after the business failed and the checker ran = %d, want 0: the "+
					"back-check answered %v for a transaction that rolled back", n, e.backCheckAnswers(tc.gid))
			}
			if st := e.state(tc.gid); st != txmsg.StateAborted {
				t.Fatalf("State(%s) after a business failure and a checker run = %s, want %s", tc.gid, st, txmsg.StateAborted)
			}
		})
	}
}

func TestTxMsgPrepareFailureRunsNothing(t *testing.T) {
	e := newEnv(t)
	e.msgs.beforePrepare = func(txmsg.Msg) error { return errLost }
	ran := false
	err := e.svc.DoAndSubmit(context.Background(), e.msg("g-1"), func(tx *sql.Tx) error {
		ran = true
		return insertOrder(context.Background(), "o-1")(tx)
	})
	if !errors.Is(err, errLost) {
		t.Fatalf("DoAndSubmit when Prepare fails = %v, want Prepare's error (wrapped with %%w)", err)
	}
	if ran || e.orderExists("o-1") {
		t.Fatalf("DoAndSubmit when Prepare fails: business ran = %v, order committed = %v; want neither: without a "+
			"prepared message nobody would ever deliver or back-check this transaction", ran, e.orderExists("o-1"))
	}
	require.Zero(t, e.published(), "records on the topic")
}

// TestTxMsgSubmitFailureStillPublishes loses the Submit after the commit in three ways; each time the
// checker's back-check must find the commit and deliver the message exactly once.
func TestTxMsgSubmitFailureStillPublishes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(e *env)
		crashes bool
	}{
		{"the Submit request is lost", func(e *env) {
			e.msgs.beforeSubmit = func(string) error { return errLost }
		}, false},
		{"the Submit answer is lost", func(e *env) {
			e.msgs.afterSubmit = func(string) error { return errLost }
		}, false},
		{"the process crashes after the commit, before Submit", func(e *env) {
			e.msgs.beforeSubmit = func(string) error {
				if err := e.proc.Crash(context.Background()); err != nil {
					return fmt.Errorf("crash: %w", err)
				}
				return crashdb.ErrCrashed
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.setup(e)
			logged := captureLog(t)
			err := e.svc.DoAndSubmit(context.Background(), e.msg("g-1"), insertOrder(context.Background(), "o-1"))
			if !tc.crashes && !strings.Contains(logged.String(), "g-1") {
				t.Fatalf("log after a Submit that failed = %q, want a line naming g-1: the caller gets nil, so the log "+
					"is where an operator learns that delivery now waits for the back-check", logged.String())
			}
			if !tc.crashes && err != nil {
				t.Fatalf("DoAndSubmit with a failed Submit after the commit = %v, want nil: the order is committed "+
					"and the back-check will deliver its message; an error would make the caller retry an order "+
					"that exists%s", err, lockwait.Explain(err))
			}
			require.True(t, e.orderExists("o-1"), "order o-1 committed before the Submit failed")
			e.check()
			e.check()
			if n := e.published(); n != 1 {
				t.Fatalf("records on the topic after a committed transaction, a failed Submit and two checker runs "+
					"= %d, want 1 (back-check answers %v): the back-check must find the commit from its marker, keyed by "+
					"the message's gid (the key the back-check is asked about; a Kafka key is not unique)",
					n, e.backCheckAnswers("g-1"))
			}
			require.Equal(t, txmsg.StatePublished, e.state("g-1"), "State(g-1)")
		})
	}
}

// TestTxMsgBackCheckWhileTransactionIsOpen runs the checker while the business transaction is open (its
// business step blocks on a channel), waits until the back-check answered or waits for a lock, then lets
// the transaction commit. Whatever the back-check answered must agree with what the transaction did, and
// a slow business step that succeeds must commit: its marker, written first, makes the back-check wait.
func TestTxMsgBackCheckWhileTransactionIsOpen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inTx, release := make(chan struct{}), make(chan struct{})
	var (
		wg        sync.WaitGroup
		doErr     error
		checkErr  error
		checkDone = make(chan struct{})
	)
	doDone := make(chan struct{})
	wg.Go(func() {
		defer close(doDone)
		doErr = e.svc.DoAndSubmit(ctx, e.msg("g-1"), func(tx *sql.Tx) error {
			if err := insertOrder(ctx, "o-1")(tx); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	})
	select {
	case <-inTx:
	case <-doDone:
		t.Fatalf("DoAndSubmit returned %v before it ran the business step%s", doErr, lockwait.Explain(doErr))
	}
	wg.Go(func() {
		defer close(checkDone)
		_, checkErr = e.srv.CheckOnce(ctx, 0)
	})
	finished := func() int {
		select {
		case <-checkDone:
			return 1
		default:
			return 0
		}
	}
	waiting := lockwait.WaitForWaiters(t, e.observer, 1, finished)
	t.Logf("back-checks waiting for the open transaction's lock when it was released: %d", waiting)
	close(release)
	wg.Wait()

	answers := e.backCheckAnswers("g-1")
	committed := e.orderExists("o-1")
	if committed && errors.Is(doErr, txmsg.ErrRolledBack) {
		t.Fatalf("DoAndSubmit = %v, and yet order o-1 is committed: the marker failed after the business had "+
			"committed. Write the marker inside the business transaction, before Commit, so that a marker that "+
			"cannot be written rolls the business back with it", doErr)
	}
	if committed && len(answers) > 0 && answers[0] == txmsg.RolledBack {
		t.Fatalf("the back-check answered RolledBack while the transaction was open, and then the transaction "+
			"committed (DoAndSubmit = %v): the order exists and its message is dropped for ever. A back-check "+
			"must not decide from a missing row alone: it must take the marker's key itself (an INSERT the open "+
			"transaction's own insert conflicts with), so that it waits for that transaction, or wins and makes "+
			"the transaction fail", doErr)
	}
	if committed && doErr != nil {
		t.Fatalf("DoAndSubmit = %v with the order committed, want nil%s", doErr, lockwait.Explain(doErr))
	}
	if !committed && !errors.Is(doErr, txmsg.ErrRolledBack) {
		t.Fatalf("DoAndSubmit after the back-check won the race = %v, want ErrRolledBack%s", doErr, lockwait.Explain(doErr))
	}
	if !committed {
		t.Fatalf("order o-1 after a back-check came during its slow business step = not committed (DoAndSubmit = %v, "+
			"back-check answers %v), want committed: the business step succeeded, and the checker must not kill "+
			"a transaction because it is slow. Insert the marker as the transaction's first statement: then the "+
			"back-check finds its key taken and waits for the commit", doErr, answers)
	}
	if checkErr != nil {
		t.Logf("the first checker run: %v (the next run retries)", checkErr)
	}
	e.check()
	want := int64(0)
	if committed {
		want = 1
	}
	if n := e.published(); n != want {
		t.Fatalf("records on the topic = %d, want %d (order committed: %v, back-check answers %v, DoAndSubmit = %v): "+
			"the message is delivered exactly when the transaction committed", n, want, committed, answers, doErr)
	}
}

// TestTxMsgBackCheckErrorIsNotAnAnswer asks the back-check, with a deadline of its own (an endpoint's request
// timeout), about a transaction that stays open past that deadline. The back-check cannot know the outcome
// yet, so it must return an error (the server asks again later) and not guess: its answers are final.
func TestTxMsgBackCheckErrorIsNotAnAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	inTx, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	var doErr error
	doDone := make(chan struct{})
	go func() {
		defer close(doDone)
		doErr = e.svc.DoAndSubmit(ctx, e.msg("g-1"), func(tx *sql.Tx) error {
			if err := insertOrder(ctx, "o-1")(tx); err != nil {
				return err
			}
			close(inTx)
			<-release
			return nil
		})
	}()
	select {
	case <-inTx:
	case <-doDone:
		t.Fatalf("DoAndSubmit returned %v before it ran the business step%s", doErr, lockwait.Explain(doErr))
	}
	// The transaction stays open until QueryPrepared has returned, so the deadline always comes first,
	// however long it is and however loaded the machine.
	const deadline = 300 * time.Millisecond
	qctx, cancel := context.WithTimeout(ctx, deadline)
	got, err := (&txmsg.Service{DB: e.observer}).QueryPrepared(qctx, "g-1")
	cancel()
	letGo()
	<-doDone
	if err == nil {
		t.Fatalf("QueryPrepared(g-1) with a %v deadline, while g-1's transaction stayed open past it = %v, nil; want "+
			"an error: the back-check could not find out, and the server takes an answer as final (then "+
			"DoAndSubmit = %v, order committed: %v). On any failure return the error: the server asks again "+
			"later", deadline, got, doErr, e.orderExists("o-1"))
	}
	require.NoError(t, doErr, "DoAndSubmit after its transaction was released%s", lockwait.Explain(doErr))
	e.check()
	require.EqualValues(t, 1, e.published(), "records on the topic after the committed transaction and a checker run")
}

// TestTxMsgLateTransactionAfterRollbackDecision stalls the business between Prepare and its transaction
// (a long GC pause, a slow network), lets the checker decide "rolled back" meanwhile, then lets the business
// go on: it must not commit.
func TestTxMsgLateTransactionAfterRollbackDecision(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prepared, resume := make(chan struct{}), make(chan struct{})
	e.msgs.afterPrepare = func(txmsg.Msg) error {
		close(prepared)
		<-resume
		return nil
	}
	var (
		wg    sync.WaitGroup
		doErr error
	)
	doDone := make(chan struct{})
	wg.Go(func() {
		defer close(doDone)
		doErr = e.svc.DoAndSubmit(ctx, e.msg("g-1"), insertOrder(ctx, "o-1"))
	})
	select {
	case <-prepared:
	case <-doDone:
		t.Fatalf("DoAndSubmit returned %v without preparing its message", doErr)
	}
	_, err := e.srv.CheckOnce(ctx, 0)
	st := e.state("g-1")
	close(resume)
	wg.Wait()
	if err != nil || st != txmsg.StateAborted {
		t.Fatalf("the checker on a message whose transaction has not started: CheckOnce = %v, State = %s; want nil "+
			"and %s: the back-check must answer RolledBack (and make sure it stays true), or the message waits "+
			"for ever when the business died after Prepare", err, st, txmsg.StateAborted)
	}
	if e.orderExists("o-1") {
		t.Fatalf("order o-1 committed after the back-check answered RolledBack (DoAndSubmit = %v): its message "+
			"is aborted, so the order never gets one. The business's marker insert must fail on the back-check's "+
			"row (a plain INSERT on the same key, not INSERT IGNORE), and the transaction roll back", doErr)
	}
	if !errors.Is(doErr, txmsg.ErrRolledBack) {
		t.Fatalf("DoAndSubmit after the back-check decided RolledBack = %v, want ErrRolledBack%s", doErr, lockwait.Explain(doErr))
	}
	e.check()
	require.Zero(t, e.published(), "records on the topic")
}

// TestTxMsgCrashAfterPrepare kills the business right after Prepare: the checker must drop the message.
func TestTxMsgCrashAfterPrepare(t *testing.T) {
	e := newEnv(t)
	e.msgs.afterPrepare = func(txmsg.Msg) error {
		require.NoError(t, e.proc.Crash(context.Background()))
		return crashdb.ErrCrashed
	}
	err := e.svc.DoAndSubmit(context.Background(), e.msg("g-1"), insertOrder(context.Background(), "o-1"))
	require.Error(t, err, "DoAndSubmit of a process that crashed")
	e.check()
	if st := e.state("g-1"); st != txmsg.StateAborted {
		t.Fatalf("State(g-1) after the business died before its transaction and the checker ran = %s, want %s "+
			"(back-check answers %v): no transaction committed, and none ever will", st, txmsg.StateAborted,
			e.backCheckAnswers("g-1"))
	}
	require.Zero(t, e.published(), "records on the topic")
}

// TestTxMsgBackCheckAnswersTheSameEveryTime asks twice for each case: the server retries a back-check whose
// answer it did not get.
func TestTxMsgBackCheckAnswersTheSameEveryTime(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.msgs.beforeSubmit = func(string) error { return errLost } // leave every message to the back-check
	require.NoError(t, e.svc.DoAndSubmit(ctx, e.msg("committed"), insertOrder(ctx, "o-1")))
	err := e.svc.DoAndSubmit(ctx, e.msg("failed"), func(*sql.Tx) error { return errBusiness })
	require.ErrorIs(t, err, errBusiness)
	back := &txmsg.Service{DB: e.observer}
	for _, tc := range []struct {
		gid  string
		want txmsg.Outcome
	}{
		{"committed", txmsg.Committed},
		{"failed", txmsg.RolledBack},
		{"never-ran", txmsg.RolledBack}, // prepared, then the process died
	} {
		for i := 1; i <= 2; i++ {
			got, err := back.QueryPrepared(ctx, tc.gid)
			if err != nil || got != tc.want {
				t.Fatalf("QueryPrepared(%s), call %d = %v, %v; want %v: a back-check is retried when its answer "+
					"is lost, so every call must give the same answer", tc.gid, i, got, err, tc.want)
			}
		}
	}
}

// TestTxMsgConcurrentCheckersPublishOnce runs four checkers at once over five messages whose Submit was lost.
func TestTxMsgConcurrentCheckersPublishOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.msgs.beforeSubmit = func(string) error { return errLost }
	for i := 1; i <= 5; i++ {
		require.NoError(t, e.svc.DoAndSubmit(ctx, e.msg(fmt.Sprintf("g-%d", i)), insertOrder(ctx, fmt.Sprintf("o-%d", i))))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = e.srv.CheckOnce(ctx, 0)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "checker %d%s", i, lockwait.Explain(err))
	}
	e.check()
	require.EqualValues(t, 5, e.published(), "records after four concurrent checkers and one more over 5 committed messages")
	seen := map[string]int{}
	for _, r := range e.records(5) {
		for _, h := range r.Headers {
			if h.Key == txmsg.MessageIDHeader {
				seen[string(h.Value)]++
			}
		}
	}
	for i := 1; i <= 5; i++ {
		require.Equal(t, 1, seen[fmt.Sprintf("g-%d", i)], "records of g-%d (all: %v)", i, seen)
	}
}
