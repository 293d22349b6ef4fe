package xa_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/crashdb"
	"github.com/gomicrolab/microlab/chapters/08-transactions/xa"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

var errInsufficient = errors.New("insufficient funds")

// env is a coordinator database and two bank databases on the same MySQL server: bank1 holds account 1
// with 1000, bank2 holds account 1 with 0.
type env struct {
	prefix                     string // every gid of the test starts with it
	logDSN, bank1DSN, bank2DSN string
	bank1, bank2               *sql.DB // the test's own handles, for checks
}

func newEnv(t testing.TB) env {
	t.Helper()
	ctx := context.Background()
	e := env{prefix: fmt.Sprintf("g%d", time.Now().UnixNano()),
		logDSN: infra.MySQL(t), bank1DSN: infra.MySQL(t), bank2DSN: infra.MySQL(t)}
	// Registered after the databases, so it runs before they are dropped: a prepared XA branch that a failing
	// test left behind would keep its locks on the server (and block DROP DATABASE) until someone ends it.
	t.Cleanup(func() { e.rollbackLeftovers(t) })
	logDB := open(t, e.logDSN)
	require.NoError(t, xa.Migrate(ctx, logDB))
	e.bank1, e.bank2 = open(t, e.bank1DSN), open(t, e.bank2DSN)
	for _, b := range []struct {
		db      *sql.DB
		balance int
	}{{e.bank1, 1000}, {e.bank2, 0}} {
		_, err := b.db.ExecContext(ctx, `CREATE TABLE account (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB`)
		require.NoError(t, err)
		_, err = b.db.ExecContext(ctx, `INSERT INTO account VALUES (1, ?)`, b.balance)
		require.NoError(t, err)
	}
	return e
}

func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// process is one coordinator process: its own connections to the three databases, which crash together.
type process struct {
	p            *crashdb.Process
	c            *xa.Coordinator
	bank1, bank2 *sql.DB
}

func (e env) process(t testing.TB) *process {
	t.Helper()
	p := crashdb.New(e.logDSN)
	return &process{p: p, c: &xa.Coordinator{Log: p.Open(t, e.logDSN)}, bank1: p.Open(t, e.bank1DSN), bank2: p.Open(t, e.bank2DSN)}
}

// transfer moves amount from account 1 of bank1 to account 1 of bank2.
func (p *process) transfer(amount int64) []xa.Branch {
	return []xa.Branch{
		{DB: p.bank1, Work: func(ctx context.Context, conn *sql.Conn) error {
			res, err := conn.ExecContext(ctx, `UPDATE account SET balance = balance - ? WHERE id = 1 AND balance >= ?`, amount, amount)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return errors.Join(errInsufficient, err)
			}
			return nil
		}},
		{DB: p.bank2, Work: func(ctx context.Context, conn *sql.Conn) error {
			_, err := conn.ExecContext(ctx, `UPDATE account SET balance = balance + ? WHERE id = 1`, amount)
			return err
		}},
	}
}

func balances(t *testing.T, e env) (int64, int64) {
	t.Helper()
	var b1, b2 int64
	require.NoError(t, e.bank1.QueryRow(`SELECT balance FROM account WHERE id = 1`).Scan(&b1))
	require.NoError(t, e.bank2.QueryRow(`SELECT balance FROM account WHERE id = 1`).Scan(&b2))
	return b1, b2
}

// preparedBranches lists the bquals of gid's prepared XA branches on the server.
func preparedBranches(t *testing.T, db *sql.DB, gid string) []string {
	t.Helper()
	rows, err := db.Query("XA RECOVER")
	require.NoError(t, err, "XA RECOVER")
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			format, glen, blen int
			data               []byte
		)
		require.NoError(t, rows.Scan(&format, &glen, &blen, &data))
		if glen+blen <= len(data) && string(data[:glen]) == gid {
			out = append(out, string(data[glen:glen+blen]))
		}
	}
	require.NoError(t, rows.Err())
	return out
}

// lockWait tries to lock account 1 of the bank at dsn, waiting at most 1 s, and returns the error (nil:
// the row was free) and how long it took.
func lockWait(t *testing.T, dsn string) (error, time.Duration) {
	t.Helper()
	db := open(t, dsn)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	require.NoError(t, err)
	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	start := time.Now()
	var b int64
	err = tx.QueryRowContext(ctx, `SELECT balance FROM account WHERE id = 1 FOR UPDATE`).Scan(&b)
	return err, time.Since(start)
}

func isLockWait(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1205
}

func requireUnlocked(t *testing.T, e env, after string) {
	t.Helper()
	for i, dsn := range []string{e.bank1DSN, e.bank2DSN} {
		if err, waited := lockWait(t, dsn); err != nil {
			t.Fatalf("after %s, account 1 of bank%d is still locked (SELECT ... FOR UPDATE: %v after %v): a branch "+
				"was left active or prepared, and every transfer on that row now waits until someone ends it", after, i+1,
				err, waited.Round(time.Millisecond))
		}
	}
}

// gid returns a global transaction id of this test.
func (e env) gid(name string) string { return e.prefix + "-" + name }

// rollbackLeftovers rolls back every prepared XA branch of this test's gids.
func (e env) rollbackLeftovers(t testing.TB) {
	db, err := sql.Open("mysql", e.bank1DSN)
	if err != nil {
		return
	}
	defer db.Close()
	rows, err := db.Query("XA RECOVER")
	if err != nil {
		t.Logf("cleanup: XA RECOVER: %v", err)
		return
	}
	var xids []string
	for rows.Next() {
		var (
			format, glen, blen int
			data               []byte
		)
		if rows.Scan(&format, &glen, &blen, &data) == nil && glen+blen <= len(data) &&
			strings.HasPrefix(string(data[:glen]), e.prefix) {
			xids = append(xids, fmt.Sprintf("'%s','%s'", data[:glen], data[glen:glen+blen]))
		}
	}
	rows.Close()
	for _, x := range xids {
		if _, err := db.Exec("XA ROLLBACK " + x); err != nil {
			t.Logf("cleanup: XA ROLLBACK %s: %v", x, err)
		}
	}
}
