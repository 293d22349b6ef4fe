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
	"errors"
	"fmt"
)

var errTODO = errors.New("TODO(08-tcc): not implemented")

// Accounts is the account service.
type Accounts struct {
	DB *sql.DB
}

// Migrate creates the account table and the barrier table.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, accountSchema); err != nil {
		return fmt.Errorf("create table account: %w", err)
	}
	// TODO(08-tcc): create the barrier table: one row per (gid, branch, op), and the database must refuse a second one.
	return errTODO
}

// Try freezes amount on account id for branch branch of global transaction gid, or returns
// ErrInsufficientFunds. A duplicate, or a Try after that branch's Cancel, does nothing and returns nil.
func (a *Accounts) Try(ctx context.Context, gid, branch string, id, amount int64) error {
	// TODO(08-tcc): in one transaction: pass the barrier for "try", then freeze amount if it is available.
	return errTODO
}

// Confirm takes the frozen amount. A duplicate does nothing.
func (a *Accounts) Confirm(ctx context.Context, gid, branch string, id, amount int64) error {
	// TODO(08-tcc): in one transaction: pass the barrier for "confirm", then take amount from balance and frozen.
	return errTODO
}

// Cancel unfreezes the amount. A duplicate, or a Cancel with no Try before it, does nothing.
func (a *Accounts) Cancel(ctx context.Context, gid, branch string, id, amount int64) error {
	// TODO(08-tcc): in one transaction: pass the barrier for "cancel" (which must also block a later Try), then unfreeze amount.
	return errTODO
}
