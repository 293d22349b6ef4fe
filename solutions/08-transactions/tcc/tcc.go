// Package tcc is the account service's side of TCC (Try-Confirm-Cancel): a debit in two phases. Try freezes
// the amount, then the transaction manager calls Confirm (take it) or Cancel (give it back). The network may
// duplicate, delay and reorder those calls, so each one passes a barrier first: a table where the call
// records itself, in the same transaction as its update. The barrier handles TCC's three pitfalls:
// a duplicate call does nothing (幂等), a Cancel with no Try before it does nothing (空回滚), and a Try that
// arrives after its Cancel does nothing (防悬挂).
package tcc

import (
	"context"
	"database/sql"
	"fmt"
)

// Accounts is the account service.
type Accounts struct {
	DB *sql.DB
}

// The barrier, as dtm's: the primary key is the guard. Two calls that both "checked first" would both pass a
// SELECT; only one of two INSERTs of the same key can succeed, and the second waits for the first to
// commit or roll back before it knows.
const barrierSchema = `CREATE TABLE IF NOT EXISTS barrier (
	gid        VARCHAR(128) NOT NULL,
	branch     VARCHAR(128) NOT NULL,
	op         VARCHAR(16)  NOT NULL,
	reason     VARCHAR(16)  NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (gid, branch, op)
) ENGINE=InnoDB`

// Migrate creates the account table and the barrier table.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, accountSchema); err != nil {
		return fmt.Errorf("create table account: %w", err)
	}
	if _, err := db.ExecContext(ctx, barrierSchema); err != nil {
		return fmt.Errorf("create table barrier: %w", err)
	}
	return nil
}

// insert records (gid, branch, op) and says whether this call was the first to do so.
func insert(ctx context.Context, tx *sql.Tx, gid, branch, op, reason string) (bool, error) {
	res, err := tx.ExecContext(ctx,
		`INSERT IGNORE INTO barrier (gid, branch, op, reason) VALUES (?, ?, ?, ?)`, gid, branch, op, reason)
	if err != nil {
		return false, fmt.Errorf("barrier %s/%s/%s: %w", gid, branch, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("barrier %s/%s/%s: %w", gid, branch, op, err)
	}
	return n == 1, nil
}

// barrier records op inside tx and says whether the business update should run. It runs in the caller's
// transaction: if the update fails, the barrier row rolls back with it, and the call can be made again.
func barrier(ctx context.Context, tx *sql.Tx, gid, branch, op string) (bool, error) {
	if op == "cancel" {
		// Cancel first takes Try's place. If that insert succeeds, no Try ever committed: this is an empty
		// rollback (nothing to unfreeze), and the row now makes a late Try's insert fail: no hanging.
		tryMissing, err := insert(ctx, tx, gid, branch, "try", "cancel")
		if err != nil {
			return false, err
		}
		first, err := insert(ctx, tx, gid, branch, "cancel", "cancel")
		if err != nil || !first {
			return false, err // a duplicate Cancel
		}
		return !tryMissing, nil
	}
	// try and confirm: only the first call applies; for try, a Cancel may have taken the row already.
	return insert(ctx, tx, gid, branch, op, op)
}

// Try freezes amount on account id for branch branch of global transaction gid, or returns
// ErrInsufficientFunds. A duplicate, or a Try after that branch's Cancel, does nothing and returns nil.
func (a *Accounts) Try(ctx context.Context, gid, branch string, id, amount int64) error {
	return inTx(ctx, a.DB, func(tx *sql.Tx) error {
		apply, err := barrier(ctx, tx, gid, branch, "try")
		if err != nil || !apply {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE account SET frozen = frozen + ? WHERE id = ? AND balance - frozen >= ?`, amount, id, amount)
		if err != nil {
			return fmt.Errorf("try %s/%s: freeze: %w", gid, branch, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("try %s/%s: freeze: %w", gid, branch, err)
		} else if n == 0 {
			// Returning an error rolls the barrier row back too: the Cancel that follows is an empty rollback.
			return fmt.Errorf("try %s/%s: account %d, amount %d: %w", gid, branch, id, amount, ErrInsufficientFunds)
		}
		return nil
	})
}

// Confirm takes the frozen amount. A duplicate does nothing.
func (a *Accounts) Confirm(ctx context.Context, gid, branch string, id, amount int64) error {
	return inTx(ctx, a.DB, func(tx *sql.Tx) error {
		apply, err := barrier(ctx, tx, gid, branch, "confirm")
		if err != nil || !apply {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE account SET balance = balance - ?, frozen = frozen - ? WHERE id = ?`, amount, amount, id); err != nil {
			return fmt.Errorf("confirm %s/%s: %w", gid, branch, err)
		}
		return nil
	})
}

// Cancel unfreezes the amount. A duplicate, or a Cancel with no Try before it, does nothing.
func (a *Accounts) Cancel(ctx context.Context, gid, branch string, id, amount int64) error {
	return inTx(ctx, a.DB, func(tx *sql.Tx) error {
		apply, err := barrier(ctx, tx, gid, branch, "cancel")
		if err != nil || !apply {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE account SET frozen = frozen - ? WHERE id = ?`, amount, id); err != nil {
			return fmt.Errorf("cancel %s/%s: %w", gid, branch, err)
		}
		return nil
	})
}
