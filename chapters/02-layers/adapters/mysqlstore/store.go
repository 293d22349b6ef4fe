// Package mysqlstore implements the app's repositories on MySQL (and MariaDB). Every transaction of
// the shop lives in this package: the use cases only see methods that succeed or fail as a whole.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// Store is the MySQL adapter. It is safe for concurrent use.
type Store struct {
	db *sql.DB
}

// New returns a Store on db. Run Migrate once first.
func New(db *sql.DB) *Store { return &Store{db: db} }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS users (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(100) NOT NULL,
		email VARCHAR(255) NOT NULL,
		UNIQUE KEY uq_users_email (email)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS products (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(100) NOT NULL,
		price_cents BIGINT NOT NULL,
		stock INT NOT NULL
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS orders (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		user_id BIGINT NOT NULL,
		status VARCHAR(16) NOT NULL,
		total_cents BIGINT NOT NULL,
		payment_id VARCHAR(64) NULL
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS order_lines (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		order_id BIGINT NOT NULL,
		product_id BIGINT NOT NULL,
		quantity INT NOT NULL,
		price_cents BIGINT NOT NULL,
		KEY ix_lines_order (order_id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS idempotency_keys (
		user_id BIGINT NOT NULL,
		idem_key VARCHAR(64) NOT NULL,
		order_id BIGINT NULL,
		PRIMARY KEY (user_id, idem_key)
	) ENGINE=InnoDB`,
}

// Migrate creates the tables if they do not exist.
func Migrate(ctx context.Context, db *sql.DB) error {
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// isDuplicateKey reports a unique-key violation (error 1062 on MySQL and MariaDB).
func isDuplicateKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// isOutOfRange reports a number too big for its column (error 1264 in strict mode).
func isOutOfRange(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1264
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
