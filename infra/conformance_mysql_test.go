package infra

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

var mysqlCases = []conformanceCase{
	{"rollback", mysqlRollback},
	{"isolation", mysqlIsolation},
	{"select_for_update_blocks", mysqlForUpdate},
	{"duplicate_key_1062", mysqlDuplicateKey},
	{"auto_increment", mysqlAutoIncrement},
}

// openMySQL opens a fresh database of the instance with one table: accounts(id PK, balance).
func openMySQL(t *testing.T, inst *Instance) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", mysqlNamespace(t, inst))
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	mustExec(t, db, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB")
	return db
}

func mustExec(t *testing.T, e interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) sql.Result {
	t.Helper()
	res, err := e.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

func count(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM accounts").Scan(&n); err != nil {
		t.Fatalf("count accounts: %v", err)
	}
	return n
}

func mysqlRollback(t *testing.T, inst *Instance) {
	db := openMySQL(t, inst)
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	mustExec(t, tx, "INSERT INTO accounts VALUES (1, 100)")
	if got := count(t, tx); got != 1 {
		t.Fatalf("count inside the transaction = %d, want 1", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if got := count(t, db); got != 0 {
		t.Errorf("count after rollback = %d, want 0", got)
	}
}

// mysqlIsolation checks REPEATABLE READ, InnoDB's default: no dirty read, and a snapshot that a concurrent commit does not change.
func mysqlIsolation(t *testing.T, inst *Instance) {
	db := openMySQL(t, inst)
	reader, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin reader: %v", err)
	}
	defer reader.Rollback()
	if got := count(t, reader); got != 0 {
		t.Fatalf("reader's first count = %d, want 0", got)
	}
	writer, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin writer: %v", err)
	}
	mustExec(t, writer, "INSERT INTO accounts VALUES (1, 100)")
	if got := count(t, reader); got != 0 {
		t.Errorf("reader sees an uncommitted row: count = %d, want 0", got)
	}
	if err := writer.Commit(); err != nil {
		t.Fatalf("Commit writer: %v", err)
	}
	if got := count(t, reader); got != 0 {
		t.Errorf("reader's snapshot changed after a concurrent commit: count = %d, want 0", got)
	}
	if got := count(t, db); got != 1 {
		t.Errorf("count in a new transaction = %d, want 1", got)
	}
}

// mysqlForUpdate checks that a second locking read waits for the first transaction, and that concurrent
// read-modify-write cycles under FOR UPDATE lose no update.
func mysqlForUpdate(t *testing.T, inst *Instance) {
	db := openMySQL(t, inst)
	mustExec(t, db, "INSERT INTO accounts VALUES (1, 0)")

	holder, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	var balance int
	if err := holder.QueryRow("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&balance); err != nil {
		t.Fatalf("first SELECT ... FOR UPDATE: %v", err)
	}
	acquired := make(chan error, 1)
	go func() {
		tx, err := db.Begin()
		if err != nil {
			acquired <- err
			return
		}
		defer tx.Rollback()
		var b int
		acquired <- tx.QueryRow("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&b)
	}()
	select {
	case err := <-acquired:
		t.Fatalf("second SELECT ... FOR UPDATE returned (err=%v) while the first transaction held the row lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := holder.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	select {
	case err := <-acquired:
		if err != nil {
			t.Fatalf("second SELECT ... FOR UPDATE after the commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second SELECT ... FOR UPDATE still blocked 10s after the first transaction committed")
	}

	const workers, rounds = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range rounds {
				if err := increment(db); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	if err := db.QueryRow("SELECT balance FROM accounts WHERE id = 1").Scan(&balance); err != nil {
		t.Fatalf("read balance: %v", err)
	}
	if balance != workers*rounds {
		t.Errorf("balance after %d concurrent locked increments = %d, want %d", workers*rounds, balance, workers*rounds)
	}
}

func increment(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var b int
	if err := tx.QueryRow("SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&b); err != nil {
		return err
	}
	if _, err := tx.Exec("UPDATE accounts SET balance = ? WHERE id = 1", b+1); err != nil {
		return err
	}
	return tx.Commit()
}

func mysqlDuplicateKey(t *testing.T, inst *Instance) {
	db := openMySQL(t, inst)
	mustExec(t, db, "INSERT INTO accounts VALUES (1, 100)")
	_, err := db.Exec("INSERT INTO accounts VALUES (1, 200)")
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) {
		t.Fatalf("second INSERT of id 1: err = %v, want a *mysql.MySQLError", err)
	}
	if myErr.Number != 1062 {
		t.Errorf("second INSERT of id 1: error number = %d, want 1062 (ER_DUP_ENTRY)", myErr.Number)
	}
}

func mysqlAutoIncrement(t *testing.T, inst *Instance) {
	db := openMySQL(t, inst)
	mustExec(t, db, "CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(32) NOT NULL)")
	var last int64
	for i, item := range []string{"apple", "pear", "plum"} {
		res := mustExec(t, db, "INSERT INTO orders (item) VALUES (?)", item)
		id, err := res.LastInsertId()
		if err != nil {
			t.Fatalf("LastInsertId: %v", err)
		}
		if i > 0 && id <= last {
			t.Errorf("insert %d got id %d, want more than the previous id %d", i, id, last)
		}
		last = id
	}
	var got string
	if err := db.QueryRow("SELECT item FROM orders WHERE id = ?", last).Scan(&got); err != nil {
		t.Fatalf("read back id %d: %v", last, err)
	}
	if got != "plum" {
		t.Errorf("item of the last id = %q, want %q", got, "plum")
	}
}
