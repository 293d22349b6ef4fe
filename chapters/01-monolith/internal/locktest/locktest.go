// Package locktest helps the chapter's tests make concurrency deterministic and lock failures readable.
// It is test support, not part of the shop.
//
// A race between transactions only shows when they overlap. Rather than hoping that goroutines started
// together also overlap inside MySQL, a test holds a row lock (Hold), starts its requests, waits until
// they are all queued behind that lock (WaitForWaiters), and only then lets them go. Every request has then
// done everything it does before touching that row: a check-then-act mistake shows every time.
package locktest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/infra"
)

// MySQL error numbers (the same on MariaDB).
const (
	errLockWaitTimeout = 1205
	errDeadlock        = 1213
)

// Hold locks the row of table with id = id (SELECT ... FOR UPDATE) in a transaction of its own, and
// returns the function that releases it (a rollback). The release also runs at cleanup.
func Hold(t testing.TB, db *sql.DB, table string, id int64) (release func()) {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("begin the transaction that holds %s %d: %v", table, id, err)
	}
	var one int
	if err := tx.QueryRow("SELECT 1 FROM `"+table+"` WHERE id = ? FOR UPDATE", id).Scan(&one); err != nil {
		_ = tx.Rollback()
		t.Fatalf("lock %s %d: %v", table, id, err)
	}
	release = func() { _ = tx.Rollback() }
	t.Cleanup(release)
	return release
}

// WaitForWaiters returns when n transactions of db's database are waiting for a lock, or when
// waiting + finished() >= n (some requests never wait: they may have failed early), or after a bound
// that stays below the lock wait timeout so that nobody times out while the test holds its lock.
// It returns how many were waiting.
func WaitForWaiters(t testing.TB, db *sql.DB, n int, finished func() int) int {
	t.Helper()
	// Requests on loopback reach their lock in milliseconds; the bound is generous for a loaded machine
	// and leaves a second before a waiter's own lock wait timeout.
	deadline := time.Now().Add(infra.MySQLLockWaitTimeout - time.Second)
	for {
		w, err := Waiters(db)
		if err != nil {
			t.Fatalf("count lock waits in information_schema.INNODB_TRX (the test's MySQL user needs the PROCESS privilege): %v", err)
		}
		if w >= n || w+finished() >= n || time.Now().After(deadline) {
			return w
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RequireUnlocked fails the test when another transaction still holds a lock on a row of one of the
// tables: after names what just happened (a failed request, say), which must have released its locks.
func RequireUnlocked(t testing.TB, db *sql.DB, after string, tables ...string) {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	for _, table := range tables {
		// NOWAIT fails at once instead of waiting for the lock (MySQL 8 and MariaDB 10.3+).
		rows, err := tx.Query("SELECT id FROM `" + table + "` FOR UPDATE NOWAIT")
		if err != nil {
			t.Fatalf("after %s, rows of %s are still locked by an open transaction (%v): every early return "+
				"must roll back (defer tx.Rollback() right after BeginTx), or the failed request keeps its row "+
				"locks and its connection, and every later request for those rows waits", after, table, err)
		}
		rows.Close()
	}
}

// Waiters counts the transactions of db's database that wait for a lock.
func Waiters(db *sql.DB) (int, error) {
	var n int
	err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.INNODB_TRX t
		JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
		WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`).Scan(&n)
	return n, err
}

// Explain returns why a lock wait timeout or a deadlock happened, for a failure message, or "" for any
// other error.
func Explain(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	switch me.Number {
	case errLockWaitTimeout:
		return lockWaitHelp
	case errDeadlock:
		return deadlockHelp
	}
	return ""
}

// ExplainText is Explain for an error that is only available as text, such as a server's log.
func ExplainText(s string) string {
	switch {
	case strings.Contains(s, "Lock wait timeout"):
		return lockWaitHelp
	case strings.Contains(s, "Deadlock found"):
		return deadlockHelp
	}
	return ""
}

var (
	lockWaitHelp = fmt.Sprintf(" [MySQL lock wait timeout: a statement waited %v for a row lock that another "+
		"transaction kept. Usually a transaction left open on an error path (every early return must roll back: "+
		"defer tx.Rollback() right after BeginTx), or a request that waits for itself (a statement on s.db "+
		"while its own tx holds the row).]", infra.MySQLLockWaitTimeout)
	deadlockHelp = " [MySQL deadlock: two transactions each held a lock the other needed, and InnoDB killed " +
		"one. Take locks in one global order in every transaction (the user, then the key, then products " +
		"by ascending id).]"
)
