package shop

import (
	"context"
	"database/sql"
	"fmt"
)

// schema works on MySQL 8 and MariaDB 10.11. Money columns are BIGINT cents; stock is a signed INT
// so that a broken stock check shows up as a negative number instead of an error.
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
		KEY ix_orders_user (user_id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS order_items (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		order_id BIGINT NOT NULL,
		product_id BIGINT NOT NULL,
		quantity INT NOT NULL,
		price_cents BIGINT NOT NULL,
		KEY ix_items_order (order_id)
	) ENGINE=InnoDB`,
	// One row per (user, key): the unique key is what makes concurrent retries safe. request_hash is a
	// fingerprint of what the key was first used for, so that the same key with another body is refused.
	`CREATE TABLE IF NOT EXISTS idempotency_keys (
		user_id BIGINT NOT NULL,
		idem_key VARCHAR(64) NOT NULL,
		request_hash CHAR(64) NOT NULL,
		order_id BIGINT NULL,
		PRIMARY KEY (user_id, idem_key)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS payments (
		id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
		order_id BIGINT NOT NULL,
		amount_cents BIGINT NOT NULL,
		UNIQUE KEY uq_payments_order (order_id)
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
