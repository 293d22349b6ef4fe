package tcc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The accounts. available = balance - frozen: Try moves money from available to frozen, Confirm takes it
// out of both, Cancel gives it back to available.
const accountSchema = `CREATE TABLE IF NOT EXISTS account (
	id      BIGINT NOT NULL PRIMARY KEY,
	balance BIGINT NOT NULL,
	frozen  BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB`

// ErrInsufficientFunds is Try's business failure: the available money is less than the amount.
var ErrInsufficientFunds = errors.New("insufficient funds")

// OpenAccount creates account id with balance.
func OpenAccount(ctx context.Context, db *sql.DB, id, balance int64) error {
	if _, err := db.ExecContext(ctx, `INSERT INTO account (id, balance) VALUES (?, ?)`, id, balance); err != nil {
		return fmt.Errorf("open account %d: %w", id, err)
	}
	return nil
}

// Balance reads an account.
func Balance(ctx context.Context, db *sql.DB, id int64) (balance, frozen int64, err error) {
	err = db.QueryRowContext(ctx, `SELECT balance, frozen FROM account WHERE id = ?`, id).Scan(&balance, &frozen)
	if err != nil {
		return 0, 0, fmt.Errorf("read account %d: %w", id, err)
	}
	return balance, frozen, nil
}

// inTx runs fn in a transaction: committed when fn returns nil, rolled back otherwise (and on every early
// return, so no lock outlives the call).
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
