package infra

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var postgresCases = []conformanceCase{
	{"rollback", postgresRollback},
	{"read_committed", postgresReadCommitted},
	{"select_for_update_blocks", postgresForUpdate},
	{"skip_locked", postgresSkipLocked},
	{"unique_violation_23505", postgresUniqueViolation},
	{"lock_timeout_55P03", postgresLockTimeout},
	{"prepare_transaction", postgresPrepareTransaction},
}

// openPostgres opens a pool on a fresh database of the instance with one table: accounts(id PK, balance).
func openPostgres(t *testing.T, inst *Instance) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), postgresNamespace(t, inst))
	if err != nil {
		t.Fatalf("pgxpool.New: %v", err)
	}
	t.Cleanup(pool.Close)
	pgExec(t, pool, "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)")
	return pool
}

type pgExecer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

type pgQueryer interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

func pgExec(t *testing.T, e pgExecer, query string, args ...any) {
	t.Helper()
	if _, err := e.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func pgCount(t *testing.T, q pgQueryer) int {
	t.Helper()
	var n int
	if err := q.QueryRow(context.Background(), "SELECT COUNT(*) FROM accounts").Scan(&n); err != nil {
		t.Fatalf("count accounts: %v", err)
	}
	return n
}

func pgBegin(t *testing.T, pool *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func postgresRollback(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	tx := pgBegin(t, pool)
	pgExec(t, tx, "INSERT INTO accounts VALUES (1, 100)")
	if got := pgCount(t, tx); got != 1 {
		t.Fatalf("count inside the transaction = %d, want 1", got)
	}
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if got := pgCount(t, pool); got != 0 {
		t.Errorf("count after rollback = %d, want 0", got)
	}
}

// postgresReadCommitted checks READ COMMITTED, PostgreSQL's default (InnoDB's is REPEATABLE READ): no dirty
// read, but each statement sees what committed before it began.
func postgresReadCommitted(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	reader := pgBegin(t, pool)
	if got := pgCount(t, reader); got != 0 {
		t.Fatalf("reader's first count = %d, want 0", got)
	}
	writer := pgBegin(t, pool)
	pgExec(t, writer, "INSERT INTO accounts VALUES (1, 100)")
	if got := pgCount(t, reader); got != 0 {
		t.Errorf("reader sees an uncommitted row: count = %d, want 0", got)
	}
	if err := writer.Commit(context.Background()); err != nil {
		t.Fatalf("Commit writer: %v", err)
	}
	if got := pgCount(t, reader); got != 1 {
		t.Errorf("reader's next statement after a concurrent commit: count = %d, want 1 under READ COMMITTED", got)
	}
}

// postgresForUpdate checks that a second locking read waits for the first transaction, and that concurrent
// read-modify-write cycles under FOR UPDATE lose no update.
func postgresForUpdate(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	pgExec(t, pool, "INSERT INTO accounts VALUES (1, 0)")
	holder := pgBegin(t, pool)
	var balance int
	if err := holder.QueryRow(context.Background(), "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&balance); err != nil {
		t.Fatalf("first SELECT ... FOR UPDATE: %v", err)
	}
	acquired := make(chan error, 1)
	go func() {
		tx, err := pool.Begin(context.Background())
		if err != nil {
			acquired <- err
			return
		}
		defer tx.Rollback(context.Background())
		var b int
		acquired <- tx.QueryRow(context.Background(), "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&b)
	}()
	select {
	case err := <-acquired:
		t.Fatalf("second SELECT ... FOR UPDATE returned (err=%v) while the first transaction held the row lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := holder.Commit(context.Background()); err != nil {
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
				err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
					var b int
					if err := tx.QueryRow(context.Background(), "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE").Scan(&b); err != nil {
						return err
					}
					_, err := tx.Exec(context.Background(), "UPDATE accounts SET balance = $1 WHERE id = 1", b+1)
					return err
				})
				if err != nil {
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
	if err := pool.QueryRow(context.Background(), "SELECT balance FROM accounts WHERE id = 1").Scan(&balance); err != nil {
		t.Fatalf("read balance: %v", err)
	}
	if balance != workers*rounds {
		t.Errorf("balance after %d concurrent locked increments = %d, want %d", workers*rounds, balance, workers*rounds)
	}
}

// postgresSkipLocked checks FOR UPDATE SKIP LOCKED, which outbox relays rely on: a second transaction gets
// the rows the first has not locked, without waiting.
func postgresSkipLocked(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	pgExec(t, pool, "INSERT INTO accounts VALUES (1, 0), (2, 0)")
	first := pgBegin(t, pool)
	var id int
	if err := first.QueryRow(context.Background(), "SELECT id FROM accounts ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED").Scan(&id); err != nil || id != 1 {
		t.Fatalf("first SKIP LOCKED read = %d, %v; want 1, nil", id, err)
	}
	second := pgBegin(t, pool)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := second.QueryRow(ctx, "SELECT id FROM accounts ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED").Scan(&id); err != nil || id != 2 {
		t.Fatalf("second SKIP LOCKED read = %d, %v; want 2, nil: a locked row must be skipped, not waited for", id, err)
	}
}

func postgresUniqueViolation(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	pgExec(t, pool, "INSERT INTO accounts VALUES (1, 100)")
	_, err := pool.Exec(context.Background(), "INSERT INTO accounts VALUES (1, 200)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("duplicate primary key: err = %v, want a *pgconn.PgError with SQLSTATE 23505 (unique_violation)", err)
	}
}

// postgresLockTimeout checks that a connection from Postgres(t) gives up on a held row lock after
// PostgresLockTimeout with SQLSTATE 55P03, instead of waiting forever (the server default).
func postgresLockTimeout(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	pgExec(t, pool, "INSERT INTO accounts VALUES (1, 0)")
	holder := pgBegin(t, pool)
	pgExec(t, holder, "UPDATE accounts SET balance = 1 WHERE id = 1")
	begin := time.Now()
	_, err := pool.Exec(context.Background(), "UPDATE accounts SET balance = 2 WHERE id = 1")
	waited := time.Since(begin)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("UPDATE of a locked row: err = %v, want SQLSTATE 55P03 (lock_not_available) after lock_timeout", err)
	}
	if waited < PostgresLockTimeout/2 || waited > 4*PostgresLockTimeout {
		t.Errorf("lock wait lasted %v, want about PostgresLockTimeout (%v)", waited, PostgresLockTimeout)
	}
}

// postgresPrepareTransaction checks PostgreSQL's two-phase commit: a prepared transaction survives its
// session, keeps its locks, and COMMIT PREPARED from another session makes it visible.
func postgresPrepareTransaction(t *testing.T, inst *Instance) {
	pool := openPostgres(t, inst)
	gid := "lab-" + randomID(6)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	released := false
	defer func() {
		if !released { // a failed step: give the connection back, or closing the pool waits for it forever
			conn.Release()
		}
	}()
	pgExec(t, conn, "BEGIN")
	pgExec(t, conn, "INSERT INTO accounts VALUES (1, 100)")
	pgExec(t, conn, "PREPARE TRANSACTION '"+gid+"'")
	conn.Release()
	released = true
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "ROLLBACK PREPARED '"+gid+"'") })
	if got := pgCount(t, pool); got != 0 {
		t.Fatalf("count before COMMIT PREPARED = %d, want 0", got)
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT COUNT(*) FROM pg_prepared_xacts WHERE gid = $1", gid).Scan(&n); err != nil || n != 1 {
		t.Fatalf("pg_prepared_xacts rows for %s = %d, %v; want 1", gid, n, err)
	}
	pgExec(t, pool, "COMMIT PREPARED '"+gid+"'")
	if got := pgCount(t, pool); got != 1 {
		t.Errorf("count after COMMIT PREPARED = %d, want 1", got)
	}
}
