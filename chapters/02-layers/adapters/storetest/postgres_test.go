package storetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/pgstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/storetest"
	"github.com/gomicrolab/microlab/infra"
)

// TestPostgresRepositoryContract runs the same contract on PostgreSQL (exercise 02-postgres). Its name
// does not start with TestRepository, so exercise 02-repository does not need PostgreSQL.
func TestPostgresRepositoryContract(t *testing.T) {
	storetest.RunContract(t, newPostgresStore)
	storetest.RunUserContract(t, newPostgresStore)
}

// newPostgresStore opens a pool on a fresh database (lock_timeout 5 s: a lock that is never released
// fails the suite in seconds, with the contract's message) and migrates it. At the end of the test it
// checks that every connection went back to the pool: a transaction never ended, or a pgx.Rows never
// closed, keeps its connection acquired, and pgxpool's Close would then wait for it forever.
func newPostgresStore(t *testing.T) storetest.Store {
	pool, err := pgxpool.New(context.Background(), infra.Postgres(t))
	require.NoError(t, err, "pgxpool.New")
	t.Cleanup(func() {
		if n := pool.Stat().AcquiredConns(); n != 0 {
			t.Errorf("after the test, %d pool connection(s) are still acquired, want 0: a pgx.Rows that is never closed or a transaction that is never committed or rolled back keeps its connection; defer rows.Close() and defer tx.Rollback(...)", n)
		}
		closed := make(chan struct{})
		go func() { pool.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second): // Close returns in milliseconds once every connection is back
			t.Errorf("pgxpool.Close did not return within 10 s: a connection was never released (see above)")
		}
	})
	require.NoError(t, pgstore.Migrate(context.Background(), pool), "pgstore.Migrate")
	return pgstore.New(pool)
}
