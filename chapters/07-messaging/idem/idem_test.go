package idem_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/07-messaging/idem"
	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/locktest"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// newDB returns a fresh database with processed_messages and an accounts table whose row 1 starts at 0.
func newDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	for _, stmt := range []string{
		idem.Schema,
		"CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
		"INSERT INTO accounts VALUES (1, 0)",
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return db
}

// credit is the message's effect: not idempotent by itself, so a second application shows in the balance.
func credit(amount int64) idem.Effect {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + ? WHERE id = 1", amount)
		return err
	}
}

func balance(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var b int64
	require.NoError(t, db.QueryRow("SELECT balance FROM accounts WHERE id = 1").Scan(&b))
	return b
}

func markers(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM processed_messages").Scan(&n))
	return n
}

func TestIdempotentAppliesARedeliveryOnce(t *testing.T) {
	db := newDB(t)
	c := &idem.Consumer{DB: db, Name: "billing"}
	ctx := context.Background()

	applied, err := c.Handle(ctx, "msg-1", credit(10))
	require.NoError(t, err, "Handle(msg-1) the first time")
	require.True(t, applied, "Handle(msg-1) the first time = applied false, want true")
	applied, err = c.Handle(ctx, "msg-1", credit(10))
	require.NoError(t, err, "Handle(msg-1) again: a duplicate is not an error, the message was processed")
	require.False(t, applied, "Handle(msg-1) again = applied true, want false: a redelivered message must change nothing")
	require.Zero(t, db.Stats().InUse,
		"connections still in use after Handle(duplicate) returned, want 0: every path must end its transaction (defer Rollback); "+
			"a transaction left open holds a connection and its row locks, and a stream of redeliveries exhausts the pool")
	require.EqualValues(t, 10, balance(t, db), "balance after msg-1 was delivered twice")

	applied, err = c.Handle(ctx, "msg-2", credit(5))
	require.NoError(t, err)
	require.True(t, applied, "Handle(msg-2): another message id is a new message")
	require.EqualValues(t, 15, balance(t, db))
	require.Equal(t, 2, markers(t, db), "rows in processed_messages")
}

func TestIdempotentConcurrentDuplicatesApplyOnce(t *testing.T) {
	db := newDB(t)
	c := &idem.Consumer{DB: db, Name: "billing"}
	const n = 12

	// Hold account 1 so that no delivery can finish its effect, start n deliveries of one message, and wait
	// until all of them are queued on a lock inside MySQL: by then each has done whatever it does before the
	// effect (a check, an insert). Then let them go. A check that runs outside the record's lock lets all through.
	release := locktest.Hold(t, db, "accounts", 1)
	var wg sync.WaitGroup
	var applied, finished atomic.Int32
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			ok, err := c.Handle(context.Background(), "msg-dup", credit(10))
			if err != nil {
				errs <- err
			}
			if ok {
				applied.Add(1)
			}
		}()
	}
	locktest.WaitForWaiters(t, db, n, func() int { return int(finished.Load()) })
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a concurrent duplicate returned %v%s, want (false, nil): a duplicate is not a failure", err, locktest.Explain(err))
	}
	require.EqualValues(t, 1, applied.Load(),
		"%d concurrent deliveries of one message reported applied=true, want 1: the record and the effect must be one transaction, and the record's primary key (not a SELECT before it) must decide", n)
	require.EqualValues(t, 10, balance(t, db),
		"balance after %d concurrent deliveries of a +10 message: applied more than once", n)
}

func TestIdempotentConsumersAreIndependent(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	for _, name := range []string{"billing", "points"} {
		applied, err := (&idem.Consumer{DB: db, Name: name}).Handle(ctx, "msg-1", credit(10))
		require.NoError(t, err, "Handle(%s, msg-1)", name)
		require.True(t, applied,
			"consumer %s: Handle(msg-1) = applied false although only another consumer processed msg-1: the record is (consumer, message id), each consumer applies each message once", name)
	}
	require.EqualValues(t, 20, balance(t, db))
}

func TestIdempotentFailedEffectLeavesNoTrace(t *testing.T) {
	db := newDB(t)
	c := &idem.Consumer{DB: db, Name: "billing"}
	ctx := context.Background()
	errDown := errors.New("inventory service down")

	applied, err := c.Handle(ctx, "msg-1", func(ctx context.Context, tx *sql.Tx) error {
		if err := credit(10)(ctx, tx); err != nil {
			return err
		}
		return errDown // fails after part of the work: the transaction must undo it
	})
	require.ErrorIs(t, err, errDown, "Handle with a failing effect: want its error, wrapped")
	require.False(t, applied)
	require.EqualValues(t, 0, balance(t, db), "balance after the effect failed half way: the transaction must roll back")
	require.Equal(t, 0, markers(t, db),
		"rows in processed_messages after the effect failed: the record must be rolled back with it, or the redelivery is skipped and the message is lost")

	applied, err = c.Handle(ctx, "msg-1", credit(10))
	require.NoError(t, err, "Handle(msg-1) redelivered after a failure")
	require.True(t, applied, "Handle(msg-1) redelivered after a failed attempt = applied false, want true: the failed attempt did not process it")
	require.EqualValues(t, 10, balance(t, db))
}

func TestIdempotentReportsDatabaseErrors(t *testing.T) {
	db := newDB(t)
	c := &idem.Consumer{DB: db, Name: "billing"}
	// A database error that is not a duplicate key: the table of records is gone (a bad migration).
	_, err := db.Exec("RENAME TABLE processed_messages TO processed_messages_old")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	applied, err := c.Handle(ctx, "msg-1", credit(10))
	require.Error(t, err, "Handle when processed_messages is missing = (applied %v, nil), want an error: only a duplicate key means 'already processed'; "+
		"taking any error for a duplicate acknowledges a message that was never applied", applied)
	require.False(t, applied)
	require.EqualValues(t, 0, balance(t, db), "balance after Handle failed")
}
