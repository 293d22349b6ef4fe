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
			t.Fatalf("count lock waits with SHOW ENGINE INNODB STATUS (the test's MySQL user needs the PROCESS privilege): %v", err)
		}
		if w >= n || w+finished() >= n || time.Now().After(deadline) {
			return w
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// KillLeftoversAtCleanup ends, at the end of the test, every connection still open to the database of dsn.
// A transaction that was never rolled back keeps its connection, and with it a lock on the tables, for as
// long as the test binary runs: dropping the test database would wait for it. Register it after the
// test's *sql.DB so that it runs first.
func KillLeftoversAtCleanup(t testing.TB, dsn string) {
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		rows, err := db.Query(`SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()`)
		if err != nil {
			return
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		for _, id := range ids {
			_, _ = db.Exec(fmt.Sprintf("KILL %d", id))
		}
	})
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
//
// It reads SHOW ENGINE INNODB STATUS, not information_schema.INNODB_TRX: the server caches that table and
// refreshes it only when nobody has read it for 100 ms, so a poll (or another test polling) sees a stale
// list for as long as it keeps asking.
func Waiters(db *sql.DB) (int, error) {
	rows, err := db.Query(`SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE()`)
	if err != nil {
		return 0, err
	}
	ours := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ours[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var typ, name, status string
	if err := db.QueryRow(`SHOW ENGINE INNODB STATUS`).Scan(&typ, &name, &status); err != nil {
		return 0, err
	}
	n := 0
	for _, trx := range strings.Split(status, "---TRANSACTION ")[1:] {
		if !strings.Contains(trx, "LOCK WAIT") {
			continue
		}
		_, rest, ok := strings.Cut(trx, " thread id ") // "MySQL thread id 7," or "MariaDB thread id 7,"
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, ",")
		if ours[id] {
			n++
		}
	}
	return n, nil
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
		"defer tx.Rollback() right after BeginTx), a statement on the *sql.DB while the same goroutine's tx "+
		"holds the row, or a relay that waits for rows another relay has locked (SKIP LOCKED skips them).]", infra.MySQLLockWaitTimeout)
	deadlockHelp = " [MySQL deadlock: two transactions each held a lock the other needed, and InnoDB killed " +
		"one. Take locks in one global order in every transaction (rows by ascending id).]"
)
