package xa_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/crashdb"
	"github.com/gomicrolab/microlab/chapters/08-transactions/xa"
)

func TestXACommitsBothBranches(t *testing.T) {
	e := newEnv(t)
	p := e.process(t)
	gid := e.gid("t")
	err := p.c.Run(context.Background(), gid, p.transfer(100))
	require.NoError(t, err, "Run(transfer 100)")
	b1, b2 := balances(t, e)
	require.Equal(t, [2]int64{900, 100}, [2]int64{b1, b2}, "balances of bank1 and bank2 after the transfer")
	require.Empty(t, preparedBranches(t, e.bank1, gid), "prepared branches of %s after Run returned nil: phase 2 must commit every branch", gid)
	requireUnlocked(t, e, "a committed transfer")
}

func TestXARejectsAnUnsafeGID(t *testing.T) {
	e := newEnv(t)
	p := e.process(t)
	err := p.c.Run(context.Background(), "g1','b0'; XA ROLLBACK 'x", p.transfer(100))
	require.ErrorIs(t, err, xa.ErrBadGID, "XA statements take no placeholders: a gid is spliced into the SQL, so "+
		"anything but plain characters must be refused before it reaches the database")
	b1, b2 := balances(t, e)
	require.Equal(t, [2]int64{1000, 0}, [2]int64{b1, b2})
}

func TestXAWorkErrorRollsBackEveryBranch(t *testing.T) {
	tests := []struct {
		name    string
		failing int // which branch's Work fails
	}{
		{"the first branch fails", 0},
		{"the second branch fails after the first prepared", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.process(t)
			gid := e.gid("t")
			errWork := errors.New("work failed")
			branches := p.transfer(100)
			work := branches[tt.failing].Work
			branches[tt.failing].Work = func(ctx context.Context, conn *sql.Conn) error {
				if err := work(ctx, conn); err != nil {
					return err
				}
				return errWork // after the update: the branch holds its row lock
			}
			err := p.c.Run(context.Background(), gid, branches)
			require.ErrorIs(t, err, errWork, "Run must return the Work error")
			b1, b2 := balances(t, e)
			require.Equal(t, [2]int64{1000, 0}, [2]int64{b1, b2}, "balances after a failed transfer: nothing may commit")
			require.Empty(t, preparedBranches(t, e.bank1, gid), "prepared branches of %s after Run failed in phase 1: "+
				"roll back every branch that was started (XA END, then XA ROLLBACK)", gid)
			requireUnlocked(t, e, "a transfer that failed in phase 1")
		})
	}
}

// TestXACrashHoldsLocksUntilRecovery kills the coordinator at each point between the phases. The server
// drops its sessions; the prepared branches stay, with their row locks: another session's locking read of
// the row waits and fails. Then a new coordinator process runs Recover, which must finish each branch as the
// log says (commit after the decision, roll back before it) and release the rows.
func TestXACrashHoldsLocksUntilRecovery(t *testing.T) {
	points := []struct {
		point      string
		committed  bool // the decision to commit was logged
		lockedBank int  // the bank whose row must be locked after the crash
		lockedDSN  func(env) string
	}{
		{"prepared", false, 1, func(e env) string { return e.bank1DSN }},
		{"decided", true, 1, func(e env) string { return e.bank1DSN }},
		{"committed 0", true, 2, func(e env) string { return e.bank2DSN }},
	}
	for _, pt := range points {
		t.Run(pt.point, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			p := e.process(t)
			gid := e.gid("t")
			reached := false
			p.c.Hook = func(point string) error {
				if point != pt.point {
					return nil
				}
				reached = true
				require.NoError(t, p.p.Crash(ctx), "crash the coordinator")
				return crashdb.ErrCrashed
			}
			_ = p.c.Run(ctx, gid, p.transfer(100)) // a dead process's result does not matter
			require.True(t, reached, "Run never called Hook(%q): call it at every crash point the Coordinator documents", pt.point)

			err, waited := lockWait(t, pt.lockedDSN(e))
			if !isLockWait(err) {
				t.Fatalf("coordinator crashed at %q: locking account 1 of bank%d = %v after %v, want a lock wait timeout "+
					"(1205): a prepared XA branch keeps its row locks after its session is gone; without XA PREPARE the "+
					"branch was rolled back or committed on its own", pt.point, pt.lockedBank, err, waited.Round(time.Millisecond))
			}
			left := preparedBranches(t, e.bank1, gid)
			require.NotEmpty(t, left, "XA RECOVER after the crash at %q lists no branch of %s", pt.point, gid)
			t.Logf("crash at %q: bank%d row locked (a locking read gave up after %v), XA RECOVER lists %v",
				pt.point, pt.lockedBank, waited.Round(time.Millisecond), left)

			p2 := e.process(t)
			n, err := p2.c.Recover(ctx, p2.bank1, p2.bank2)
			require.NoError(t, err, "Recover in a new coordinator process")
			require.Equal(t, len(left), n, "branches Recover finished, with %v of %s prepared after the crash at %q: Recover "+
				"must finish every prepared branch of a transaction in its log, so the log must know a transaction "+
				"before its first branch starts", left, gid, pt.point)
			require.Empty(t, preparedBranches(t, e.bank1, gid), "prepared branches of %s after Recover", gid)
			requireUnlocked(t, e, fmt.Sprintf("Recover (crash at %q)", pt.point))
			b1, b2 := balances(t, e)
			want := [2]int64{1000, 0}
			why := "no commit decision was logged: the client was never told it committed, so recovery rolls back (presumed abort)"
			if pt.committed {
				want = [2]int64{900, 100}
				why = "the commit decision was logged before the crash: recovery must commit every branch"
			}
			require.Equal(t, want, [2]int64{b1, b2}, "balances after Recover (crash at %q): %s", pt.point, why)
		})
	}
}

func TestXARecoverLeavesOtherTransactionsAlone(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// Prepare a transaction of another coordinator, then one of ours that crashes after prepare, then another
	// foreign one: XA RECOVER lists them all, in an order Recover cannot count on.
	foreign := func(name string) string {
		// Its own pool, closed right after the prepare: that coordinator is gone, its branch waits for it, and
		// the env's cleanup can end it.
		db, err := sql.Open("mysql", e.bank1DSN)
		require.NoError(t, err)
		defer db.Close()
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		gid := e.gid(name)
		for _, stmt := range []string{"XA START '" + gid + "','x'", "UPDATE account SET balance = balance WHERE id = 2",
			"XA END '" + gid + "','x'", "XA PREPARE '" + gid + "','x'"} {
			_, err := conn.ExecContext(ctx, stmt)
			require.NoError(t, err, stmt)
		}
		return gid
	}
	other1 := foreign("other1")
	p := e.process(t)
	p.c.Hook = func(point string) error {
		if point != "prepared" {
			return nil
		}
		require.NoError(t, p.p.Crash(ctx))
		return crashdb.ErrCrashed
	}
	ours := e.gid("ours")
	_ = p.c.Run(ctx, ours, p.transfer(100))
	other2 := foreign("other2")

	p2 := e.process(t)
	n, err := p2.c.Recover(ctx, p2.bank1, p2.bank2)
	require.NoError(t, err)
	require.Equal(t, 2, n, "branches Recover finished: the two of its own transaction, whatever else XA RECOVER lists")
	require.Empty(t, preparedBranches(t, e.bank1, ours), "prepared branches of the coordinator's own transaction after Recover")
	for _, gid := range []string{other1, other2} {
		require.Equal(t, []string{"x"}, preparedBranches(t, e.bank1, gid),
			"Recover ended a prepared XA transaction that is not in its log: it belongs to another coordinator, which "+
				"may still commit it; only the coordinator's own log can say how to finish a branch")
	}
}

// TestXACommitFailureAfterTheDecisionIsLeftToRecover: the commit was decided and logged, branch 0 committed,
// then branch 1's session dies (the test kills it on the server) and its XA COMMIT fails. The prepared branch
// survives its session. It must not be rolled back, and the log must still say commit: bank1 already paid,
// so the only way to a consistent state is to commit branch 1 too (Run on a new session, or Recover).
func TestXACommitFailureAfterTheDecisionIsLeftToRecover(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.process(t)
	gid := e.gid("t")
	branches := p.transfer(100)
	var session int64 // the server's id of branch 1's session
	work := branches[1].Work
	branches[1].Work = func(ctx context.Context, conn *sql.Conn) error {
		if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&session); err != nil {
			return err
		}
		return work(ctx, conn)
	}
	reached := false
	p.c.Hook = func(point string) error {
		if point != "committed 0" {
			return nil
		}
		reached = true
		_, err := e.bank2.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", session))
		require.NoError(t, err, "kill the session of branch 1")
		// KILL only marks the session; wait until the server has dropped it, so that its XA COMMIT surely
		// fails and the prepared branch is detached for Recover. Dropping a session takes milliseconds; the
		// bound is for a loaded machine.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var n int
			require.NoError(t, e.bank2.QueryRowContext(ctx,
				"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", session).Scan(&n))
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session %d of branch 1 still exists 10 s after KILL CONNECTION", session)
			}
		}
		return nil
	}
	err := p.c.Run(ctx, gid, branches)
	require.True(t, reached, "Run never called Hook(\"committed 0\"): call it after the XA COMMIT of each branch")
	if err == nil {
		// Allowed only if Run really finished: committed branch 1 again on a new session.
		if left := preparedBranches(t, e.bank1, gid); len(left) > 0 {
			t.Fatalf("Run with branch 1's session killed before its XA COMMIT = nil while branches %v of %s are "+
				"still prepared; want an error: the caller must learn that the transfer is not finished yet", left, gid)
		}
	} else {
		t.Logf("Run: %v", err)
	}

	p2 := e.process(t)
	_, err = p2.c.Recover(ctx, p2.bank1, p2.bank2)
	require.NoError(t, err, "Recover in a new coordinator process")
	require.Empty(t, preparedBranches(t, e.bank1, gid), "prepared branches of %s after Recover", gid)
	requireUnlocked(t, e, "Recover of a transfer whose XA COMMIT failed")
	if b1, b2 := balances(t, e); b1 != 900 || b2 != 100 {
		t.Fatalf("balances after Recover = %d, %d; want 900, 100: the commit decision was logged and branch 0 "+
			"committed, so a failed XA COMMIT in phase 2 changes nothing: branch 1 stays prepared and must commit. "+
			"Rolling it back (or logging 'rollback') after the commit point loses the money bank1 already paid", b1, b2)
	}
}
