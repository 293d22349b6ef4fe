// Package lockwait is test support for the chapter: it holds a row lock so that concurrent requests queue
// behind it, waits until they do, and explains lock-wait timeouts and deadlocks in failure messages.
package lockwait

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

// Hold locks the row of table with id = id (SELECT ... FOR UPDATE) in a transaction of its own, and returns
// the function that releases it (a rollback). The release also runs at cleanup.
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

// WaitForWaiters returns when n transactions of db's database wait for a lock, or when waiting + finished()
// >= n (some requests never wait), or after a bound a second below the lock wait timeout. It returns how
// many were waiting.
func WaitForWaiters(t testing.TB, db *sql.DB, n int, finished func() int) int {
	t.Helper()
	deadline := time.Now().Add(infra.MySQLLockWaitTimeout - time.Second)
	for {
		w, err := Waiters(db)
		if err != nil {
			t.Fatalf("count lock waits with SHOW ENGINE INNODB STATUS (needs the PROCESS privilege): %v", err)
		}
		if w >= n || w+finished() >= n || time.Now().After(deadline) {
			return w
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Waiters counts the transactions of db's database that wait for a lock. It reads SHOW ENGINE INNODB
// STATUS: information_schema.INNODB_TRX is cached by the server and goes stale under polling.
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

// Explain returns why a lock wait timeout (1205) or a deadlock (1213) happened, for a failure message, or ""
// for any other error.
func Explain(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	switch me.Number {
	case 1205:
		return fmt.Sprintf(" [MySQL lock wait timeout: a statement waited %v for a row lock that another "+
			"transaction kept. Usually a transaction left open on an error path (defer tx.Rollback() right after "+
			"BeginTx), or a statement on the *sql.DB while the same request's tx holds the row.]",
			infra.MySQLLockWaitTimeout)
	case 1213:
		return " [MySQL deadlock: two transactions each held a lock the other needed, and InnoDB killed one. " +
			"Take locks in the same order in every transaction.]"
	}
	return ""
}
