package storetest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/memstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/mysqlstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/storetest"
	"github.com/gomicrolab/microlab/infra"
)

func TestRepositoryContractMemory(t *testing.T) {
	newStore := func(*testing.T) storetest.Store { return memstore.New() }
	storetest.RunContract(t, newStore)
	storetest.RunUserContract(t, newStore)
}

func TestRepositoryContractMySQL(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) storetest.Store {
		// A session lock wait of 5 s (not MySQL's 50 s): a lock that is never released fails the
		// suite in seconds, with the contract's message.
		db, err := sql.Open("mysql", infra.MySQL(t)+"&innodb_lock_wait_timeout=5")
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		require.NoError(t, mysqlstore.Migrate(context.Background(), db))
		return mysqlstore.New(db)
	})
}
