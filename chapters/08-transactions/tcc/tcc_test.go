package tcc_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/lockwait"
	"github.com/gomicrolab/microlab/chapters/08-transactions/tcc"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// newAccounts returns the service on a fresh database with accounts 1 and 2 holding 1000 each.
func newAccounts(t *testing.T) (*tcc.Accounts, *sql.DB) {
	t.Helper()
	db, err := sql.Open("mysql", infra.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, tcc.Migrate(context.Background(), db), "Migrate")
	for _, id := range []int64{1, 2} {
		require.NoError(t, tcc.OpenAccount(context.Background(), db, id, 1000))
	}
	return &tcc.Accounts{DB: db}, db
}

// call runs one TCC call and fails the test on an unexpected error, explaining lock waits and deadlocks.
func call(t *testing.T, what string, f func(ctx context.Context, gid, branch string, id, amount int64) error,
	gid string, id, amount int64) {
	t.Helper()
	if err := f(context.Background(), gid, "b1", id, amount); err != nil {
		t.Fatalf("%s(%s, account %d, %d) = %v, want nil%s", what, gid, id, amount, err, lockwait.Explain(err))
	}
}

func requireAccount(t *testing.T, db *sql.DB, id, balance, frozen int64, why string) {
	t.Helper()
	b, f, err := tcc.Balance(context.Background(), db, id)
	require.NoError(t, err)
	if b != balance || f != frozen {
		t.Fatalf("account %d = balance %d, frozen %d; want balance %d, frozen %d: %s", id, b, f, balance, frozen, why)
	}
}

func TestTCCTryThenConfirm(t *testing.T) {
	a, db := newAccounts(t)
	call(t, "Try", a.Try, "g1", 1, 100)
	requireAccount(t, db, 1, 1000, 100, "Try freezes the amount; the money is still there")
	call(t, "Confirm", a.Confirm, "g1", 1, 100)
	requireAccount(t, db, 1, 900, 0, "Confirm takes the frozen amount")
	requireAccount(t, db, 2, 1000, 0, "another account is not touched")
}

func TestTCCTryThenCancel(t *testing.T) {
	a, db := newAccounts(t)
	call(t, "Try", a.Try, "g1", 1, 100)
	call(t, "Cancel", a.Cancel, "g1", 1, 100)
	requireAccount(t, db, 1, 1000, 0, "Cancel gives the frozen amount back")
}

func TestTCCTryChecksAvailableMoney(t *testing.T) {
	a, db := newAccounts(t)
	call(t, "Try", a.Try, "g1", 1, 700)
	err := a.Try(context.Background(), "g2", "b1", 1, 700)
	require.ErrorIs(t, err, tcc.ErrInsufficientFunds,
		"Try(700) with 1000 - 700 frozen = 300 available must fail: frozen money is promised to g1")
	requireAccount(t, db, 1, 1000, 700, "a failed Try freezes nothing")
}

func TestTCCTryMayFreezeAllTheAvailableMoney(t *testing.T) {
	a, db := newAccounts(t)
	call(t, "Try", a.Try, "g1", 1, 700)
	if err := a.Try(context.Background(), "g2", "b1", 1, 300); err != nil {
		t.Fatalf("Try(g2, account 1, 300) with 1000 - 700 frozen = 300 available = %v, want nil: exactly the "+
			"available money is enough (balance - frozen >= amount, not >)%s", err, lockwait.Explain(err))
	}
	requireAccount(t, db, 1, 1000, 1000, "g1 froze 700 and g2 the remaining 300")
}

// TestTCCConcurrentTriesCannotOverdraw sends two Tries of different global transactions for the same account
// at the same moment, each for more than half of the money. The test holds the account row, waits until both
// are queued behind it and lets them go: a check of the available money that is not part of the freezing
// UPDATE (or a locking read) sees the old row in both, and both freeze.
func TestTCCConcurrentTriesCannotOverdraw(t *testing.T) {
	a, db := newAccounts(t)
	release := lockwait.Hold(t, db, "account", 1)
	var (
		wg       sync.WaitGroup
		finished atomic.Int32
		errs     = make([]error, 2)
	)
	for i := range errs {
		wg.Go(func() {
			defer finished.Add(1)
			errs[i] = a.Try(context.Background(), fmt.Sprintf("g%d", i+1), "b1", 1, 600)
		})
	}
	waiting := lockwait.WaitForWaiters(t, db, 2, func() int { return int(finished.Load()) })
	release()
	wg.Wait()
	b, f, err := tcc.Balance(context.Background(), db, 1)
	require.NoError(t, err)
	if f > b {
		t.Fatalf("account 1 after Try(g1, 600) and Try(g2, 600) at once (%d were queued on the row together) = "+
			"balance %d, frozen %d; want frozen <= balance: both read 1000 available before either froze. Check "+
			"and freeze in one statement (UPDATE ... WHERE balance - frozen >= ?), so the check sees the other's "+
			"freeze; errors %v", waiting, b, f, errs)
	}
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, tcc.ErrInsufficientFunds):
			refused++
		default:
			t.Fatalf("Try(600) = %v, want nil or ErrInsufficientFunds%s", err, lockwait.Explain(err))
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("two Try(600) at once on 1000: %d succeeded, %d got ErrInsufficientFunds (errors %v); want 1 and 1: "+
			"the first freezes 600, the second finds 400 available", ok, refused, errs)
	}
	requireAccount(t, db, 1, 1000, 600, "one Try of 600 froze")
}

func TestTCCEmptyRollback(t *testing.T) {
	a, db := newAccounts(t)
	// The Try was lost or is still on its way; the transaction manager timed out and cancels.
	call(t, "Cancel", a.Cancel, "g1", 1, 100)
	requireAccount(t, db, 1, 1000, 0,
		"Cancel with no Try before it is an empty rollback (空回滚): nothing was frozen, so nothing may be unfrozen")
}

func TestTCCNoHangingTry(t *testing.T) {
	a, db := newAccounts(t)
	call(t, "Cancel", a.Cancel, "g1", 1, 100) // empty rollback
	call(t, "Try", a.Try, "g1", 1, 100)       // the delayed Try arrives after all
	requireAccount(t, db, 1, 1000, 0,
		"a Try after its Cancel must do nothing (防悬挂): no Confirm or Cancel will ever come to unfreeze it, "+
			"so the money would hang frozen forever. Cancel must leave a mark that stops a later Try")
}

func TestTCCFailedTryThenCancel(t *testing.T) {
	a, db := newAccounts(t)
	err := a.Try(context.Background(), "g1", "b1", 1, 5000)
	require.ErrorIs(t, err, tcc.ErrInsufficientFunds)
	call(t, "Cancel", a.Cancel, "g1", 1, 5000) // the transaction manager cancels the failed branch
	requireAccount(t, db, 1, 1000, 0,
		"the Try failed and froze nothing, so its Cancel is an empty rollback. A barrier row written outside "+
			"the Try's transaction survives the failure and makes Cancel unfreeze money that was never frozen")
}

func TestTCCDuplicatesApplyOnce(t *testing.T) {
	a, db := newAccounts(t)
	for range 3 {
		call(t, "Try", a.Try, "g1", 1, 100)
	}
	requireAccount(t, db, 1, 1000, 100, "Try delivered 3 times freezes once (幂等)")
	for range 3 {
		call(t, "Confirm", a.Confirm, "g1", 1, 100)
	}
	requireAccount(t, db, 1, 900, 0, "Confirm delivered 3 times takes the money once (幂等)")

	call(t, "Try", a.Try, "g2", 2, 100)
	for range 3 {
		call(t, "Cancel", a.Cancel, "g2", 2, 100)
	}
	requireAccount(t, db, 2, 1000, 0, "Cancel delivered 3 times unfreezes once (幂等)")
}

// TestTCCBranchesOfOneGlobalTransactionAreIndependent: one global transaction debits two accounts, as two
// branches. The barrier tells calls apart by (gid, branch, op): the second branch is not a duplicate of the first.
func TestTCCBranchesOfOneGlobalTransactionAreIndependent(t *testing.T) {
	a, db := newAccounts(t)
	ctx := context.Background()
	for _, c := range []struct {
		op              string
		f               func(ctx context.Context, gid, branch string, id, amount int64) error
		branch          string
		id, amount      int64
		balance, frozen int64
	}{
		{"Try", a.Try, "b1", 1, 100, 1000, 100},
		{"Try", a.Try, "b2", 2, 200, 1000, 200},
		{"Confirm", a.Confirm, "b1", 1, 100, 900, 0},
		{"Confirm", a.Confirm, "b2", 2, 200, 800, 0},
	} {
		if err := c.f(ctx, "g1", c.branch, c.id, c.amount); err != nil {
			t.Fatalf("%s(g1, %s, account %d, %d) = %v, want nil%s", c.op, c.branch, c.id, c.amount, err, lockwait.Explain(err))
		}
		requireAccount(t, db, c.id, c.balance, c.frozen, fmt.Sprintf("after %s(g1, %s): branch %s of g1 is its own "+
			"call, not a duplicate of the other branch; the barrier key is (gid, branch, op)", c.op, c.branch, c.branch))
	}
}

// TestTCCConcurrentDuplicatesApplyOnce sends the same call twice at the same moment. The test holds the
// account row, waits until both calls are queued behind it (each has done its barrier work by then) and lets
// them go: a barrier that checks with a SELECT and then inserts lets both through, every time.
func TestTCCConcurrentDuplicatesApplyOnce(t *testing.T) {
	for _, op := range []string{"Confirm", "Cancel"} {
		t.Run(op, func(t *testing.T) {
			a, db := newAccounts(t)
			call(t, "Try", a.Try, "g1", 1, 100)
			f := map[string]func(context.Context, string, string, int64, int64) error{"Confirm": a.Confirm, "Cancel": a.Cancel}[op]

			release := lockwait.Hold(t, db, "account", 1)
			var (
				wg       sync.WaitGroup
				finished atomic.Int32
				errs     = make([]error, 2)
			)
			for i := range errs {
				wg.Go(func() {
					defer finished.Add(1)
					errs[i] = f(context.Background(), "g1", "b1", 1, 100)
				})
			}
			waiting := lockwait.WaitForWaiters(t, db, 2, func() int { return int(finished.Load()) })
			release()
			wg.Wait()
			ok := 0
			for _, err := range errs {
				require.NotErrorIs(t, err, tcc.ErrInsufficientFunds)
				if err == nil {
					ok++
				} else if hint := lockwait.Explain(err); hint != "" {
					t.Fatalf("%s: %v%s", op, err, hint)
				}
			}
			require.GreaterOrEqual(t, ok, 1, "%s twice at once: at least one must succeed; errors %v", op, errs)
			want := map[string]int64{"Confirm": 900, "Cancel": 1000}[op]
			requireAccount(t, db, 1, want, 0, fmt.Sprintf("%s sent twice at the same moment (%d were queued on "+
				"the account row together) must apply once: only a unique key on (gid, branch, op) in the barrier "+
				"table can tell two concurrent calls apart; a SELECT before the INSERT sees neither", op, waiting))
		})
	}
}

// A message on its way to the account service.
type msg struct {
	g  *branchTx
	op string // Try, Confirm, Cancel
}

// branchTx is one global transaction's debit branch, and what its transaction manager decided.
type branchTx struct {
	gid      string
	account  int64
	amount   int64
	decision string // "", "Confirm" or "Cancel"
	cancels  int    // Cancels delivered so far
	tries    int    // Tries delivered so far
}

// TestTCCRandomInterleavings is a property test. Each seed plays several global transactions on two
// accounts through a network that duplicates and reorders every message: Tries arrive twice, after their
// Cancel or never before it, and transaction managers give up and cancel before a Try arrives. Whatever the
// order, the money must be conserved: each account ends at its opening balance minus the confirmed debits,
// with nothing frozen, and never freezes more than it holds. The seeds are fixed, so a failure replays:
// TCC_SEED=<seed> go test -run TestTCCRandomInterleavings ./08-transactions/tcc
func TestTCCRandomInterleavings(t *testing.T) {
	a, db := newAccounts(t)
	ctx := context.Background()
	seeds := make([]uint64, 40)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	if s := os.Getenv("TCC_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "TCC_SEED")
		seeds = []uint64{seed}
	}
	var delivered, emptyRollbacks, lateTries, duplicates, confirmed, cancelled int
	for _, seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, seed))
		where := fmt.Sprintf("seed %d (replay: TCC_SEED=%d go test -run TestTCCRandomInterleavings ./08-transactions/tcc)", seed, seed)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s: %s", where, fmt.Sprintf(format, args...))
		}
		// Fresh accounts for this seed, small enough that some Tries fail for lack of money.
		opening := map[int64]int64{}
		for _, id := range []int64{int64(seed*10 + 1), int64(seed*10 + 2)} {
			opening[id] = 300
			require.NoError(t, tcc.OpenAccount(ctx, db, id, 300))
		}
		var net []msg
		send := func(g *branchTx, op string) {
			for range 1 + rng.IntN(2) { // the network may duplicate any message
				net = append(net, msg{g, op})
			}
		}
		decide := func(g *branchTx, op string) {
			g.decision = op
			send(g, op)
		}
		var txs []*branchTx
		for i := range 6 {
			g := &branchTx{gid: fmt.Sprintf("s%d-g%d", seed, i), account: int64(seed*10 + 1 + uint64(rng.IntN(2))),
				amount: int64(50 + 10*rng.IntN(16))}
			txs = append(txs, g)
			send(g, "Try")
			if rng.IntN(4) == 0 { // the manager times out before any Try is answered, and cancels
				decide(g, "Cancel")
			}
		}
		for len(net) > 0 {
			i := rng.IntN(len(net))
			m := net[i]
			net = append(net[:i], net[i+1:]...)
			g := m.g
			delivered++
			var err error
			switch m.op {
			case "Try":
				if g.cancels > 0 {
					lateTries++
				}
				if g.tries > 0 {
					duplicates++
				}
				g.tries++
				err = a.Try(ctx, g.gid, "b1", g.account, g.amount)
				switch {
				case errors.Is(err, tcc.ErrInsufficientFunds):
					if g.decision == "" {
						decide(g, "Cancel")
					}
					err = nil
				case err == nil && g.decision == "":
					if rng.IntN(3) == 0 { // another branch of g failed: the manager cancels
						decide(g, "Cancel")
					} else {
						decide(g, "Confirm")
					}
				}
			case "Confirm":
				err = a.Confirm(ctx, g.gid, "b1", g.account, g.amount)
			case "Cancel":
				if g.tries == 0 && g.cancels == 0 {
					emptyRollbacks++
				} else if g.cancels > 0 {
					duplicates++
				}
				g.cancels++
				err = a.Cancel(ctx, g.gid, "b1", g.account, g.amount)
			}
			if err != nil {
				fail("%s(%s, account %d, %d) = %v, want nil%s", m.op, g.gid, g.account, g.amount, err, lockwait.Explain(err))
			}
			for id := range opening {
				b, f, err := tcc.Balance(ctx, db, id)
				require.NoError(t, err)
				if f < 0 || f > b {
					fail("after %s(%s): account %d has balance %d, frozen %d: frozen must stay within 0..balance",
						m.op, g.gid, id, b, f)
				}
			}
		}
		want := map[int64]int64{}
		for id, b := range opening {
			want[id] = b
		}
		for _, g := range txs {
			if g.decision == "Confirm" {
				want[g.account] -= g.amount
				confirmed++
			} else {
				cancelled++
			}
		}
		for id, w := range want {
			b, f, err := tcc.Balance(ctx, db, id)
			require.NoError(t, err)
			if b != w || f != 0 {
				fail("account %d ended with balance %d, frozen %d; want balance %d (opening %d minus the confirmed "+
					"debits), frozen 0: some call applied twice, out of order, or after its Cancel", id, b, f, w, opening[id])
			}
		}
	}
	if os.Getenv("TCC_SEED") == "" && (emptyRollbacks == 0 || lateTries == 0 || duplicates == 0) {
		t.Fatalf("the seeds exercised %d empty rollbacks, %d late Tries and %d duplicates: each must occur", emptyRollbacks, lateTries, duplicates)
	}
	t.Logf("%d seeds, %d messages delivered: %d confirmed and %d cancelled transactions, %d empty rollbacks, "+
		"%d Tries after a Cancel, %d duplicates; money conserved every time", len(seeds), delivered, confirmed,
		cancelled, emptyRollbacks, lateTries, duplicates)
}
