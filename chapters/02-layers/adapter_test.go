package layers_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/mysqlstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
	"github.com/gomicrolab/microlab/infra"
)

// TestAdapterTranslatesDuplicateEmail: the MySQL adapter, and only it, knows what a duplicate key
// looks like. A taken email leaves it as a domain conflict; every other failure must not, or a
// broken database would tell clients "409 email taken".
func TestAdapterTranslatesDuplicateEmail(t *testing.T) {
	db, err := sql.Open("mysql", infra.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	require.NoError(t, mysqlstore.Migrate(ctx, db), "mysqlstore.Migrate")
	store := mysqlstore.New(db)

	_, err = store.CreateUser(ctx, user.User{Name: "ada", Email: "ada@example.com"})
	require.NoError(t, err, "CreateUser(ada@example.com)")
	_, err = store.CreateUser(ctx, user.User{Name: "copy", Email: "ada@example.com"})
	require.ErrorIs(t, err, domain.ErrConflict, "CreateUser with a taken email = %v, want an error wrapping domain.ErrConflict (via user.ErrEmailTaken)", err)
	require.ErrorIs(t, err, user.ErrEmailTaken, "CreateUser with a taken email = %v, want an error wrapping user.ErrEmailTaken", err)

	// The name column holds 100 characters: MariaDB and MySQL in strict mode refuse with error 1406,
	// a MySQL error that is not a duplicate.
	_, err = store.CreateUser(ctx, user.User{Name: strings.Repeat("x", 101), Email: "long@example.com"})
	require.Error(t, err, "CreateUser with a 101-character name: the database should refuse it (strict mode)")
	require.NotErrorIs(t, err, domain.ErrConflict, "CreateUser with a 101-character name = %v: that is no conflict; only a duplicate key (error 1062) is a taken email", err)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = store.CreateUser(cancelled, user.User{Name: "bob", Email: "bob@example.com"})
	require.ErrorIs(t, err, context.Canceled, "CreateUser with a cancelled ctx = %v, want context.Canceled", err)
	require.NotErrorIs(t, err, domain.ErrConflict, "CreateUser with a cancelled ctx = %v: that is no conflict", err)
}

// TestAdapterRefusesStockOutOfRange: the domain allows any stock from 0 up, the column holds an INT.
// A number too big for the column is the client's mistake (400), not the server's (500): the adapter
// translates MySQL's error 1264 where it is born, like the duplicate key.
func TestAdapterRefusesStockOutOfRange(t *testing.T) {
	db, err := sql.Open("mysql", infra.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	require.NoError(t, mysqlstore.Migrate(ctx, db), "mysqlstore.Migrate")
	store := mysqlstore.New(db)

	p, err := product.New("pen", 1999, 3_000_000_000)
	require.NoError(t, err, "product.New with a stock of 3e9")
	_, err = store.CreateProduct(ctx, p)
	require.ErrorIs(t, err, domain.ErrInvalid, "CreateProduct with a stock of 3e9 (more than the INT column holds) = %v, want an error wrapping domain.ErrInvalid: the client sent a number out of range, that is a 400, not a 500", err)
}
