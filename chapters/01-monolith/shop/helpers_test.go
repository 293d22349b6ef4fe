package shop_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
	"github.com/gomicrolab/microlab/infra"
)

// newStore returns a Store on a fresh, migrated database, and the raw *sql.DB for checks.
func newStore(t *testing.T) (*shop.Store, *sql.DB) {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	require.NoError(t, shop.Migrate(context.Background(), db))
	return shop.NewStore(db), db
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func stockOf(t *testing.T, s *shop.Store, id int64) int {
	t.Helper()
	p, err := s.GetProduct(context.Background(), id)
	require.NoError(t, err)
	return p.Stock
}
