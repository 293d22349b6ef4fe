// Package pgstore implements the app's repositories on PostgreSQL with pgx (github.com/jackc/pgx/v5),
// through a pgxpool.Pool rather than database/sql. It passes the same contract (adapters/storetest) as
// mysqlstore: the use cases cannot tell which database is behind them. What differs from MySQL is all
// in this package: $1 placeholders, INSERT ... RETURNING id, SQLSTATE codes instead of MySQL error
// numbers, and READ COMMITTED as the default isolation level.
package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the PostgreSQL adapter. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool. Run Migrate once first.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// The schema of mysqlstore in PostgreSQL's words: BIGINT GENERATED ALWAYS AS IDENTITY is AUTO_INCREMENT
// (backed by a sequence), and a UNIQUE constraint has a name of its own that errors report.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS users (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name VARCHAR(100) NOT NULL,
		email VARCHAR(255) NOT NULL,
		CONSTRAINT uq_users_email UNIQUE (email)
	)`,
	`CREATE TABLE IF NOT EXISTS products (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name VARCHAR(100) NOT NULL,
		price_cents BIGINT NOT NULL,
		stock INT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS orders (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		user_id BIGINT NOT NULL,
		status VARCHAR(16) NOT NULL,
		total_cents BIGINT NOT NULL,
		payment_id VARCHAR(64) NULL
	)`,
	`CREATE TABLE IF NOT EXISTS order_lines (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		order_id BIGINT NOT NULL,
		product_id BIGINT NOT NULL,
		quantity INT NOT NULL,
		price_cents BIGINT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS ix_lines_order ON order_lines (order_id)`,
	`CREATE TABLE IF NOT EXISTS idempotency_keys (
		user_id BIGINT NOT NULL,
		idem_key VARCHAR(64) NOT NULL,
		order_id BIGINT NULL,
		PRIMARY KEY (user_id, idem_key)
	)`,
}

// Migrate creates the tables if they do not exist.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	for _, stmt := range schema {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// isUniqueViolation reports a unique-constraint violation: SQLSTATE 23505 (unique_violation), what
// MySQL calls error 1062.
func isUniqueViolation(err error) bool {
	// TODO(02-postgres): pgx returns the server's error as a *pgconn.PgError (usually wrapped, so use
	// errors.As). Its Code field is the SQLSTATE, five characters; a unique violation is "23505". Only
	// that code is a duplicate: a value too long for its column (22001) or a cancelled ctx is not.
	return false
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
