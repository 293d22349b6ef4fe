package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PayOrder records a payment of amountCents for a pending order and marks it paid, in one transaction.
// Paying an order that is not pending, or paying the wrong amount, is ErrConflict.
//
// It is a worked example of the conditional UPDATE that 01-stock-race asks for: the WHERE clause
// carries the precondition (status = 'pending'), so of two concurrent payments exactly one changes a row.
func (s *Store) PayOrder(ctx context.Context, orderID, amountCents int64) (Payment, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	}
	defer tx.Rollback() // a no-op after Commit

	var total int64
	err = tx.QueryRowContext(ctx, `SELECT total_cents FROM orders WHERE id = ?`, orderID).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	}
	if amountCents != total {
		return Payment{}, fmt.Errorf("pay order %d: amount %d, want %d: %w", orderID, amountCents, total, ErrConflict)
	}
	res, err := tx.ExecContext(ctx,
		`UPDATE orders SET status = ? WHERE id = ? AND status = ?`, StatusPaid, orderID, StatusPending)
	if err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	} else if n == 0 {
		return Payment{}, fmt.Errorf("pay order %d: not pending: %w", orderID, ErrConflict)
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO payments (order_id, amount_cents) VALUES (?, ?)`, orderID, amountCents)
	if err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Payment{}, fmt.Errorf("pay order %d: %w", orderID, err)
	}
	if err := tx.Commit(); err != nil {
		return Payment{}, fmt.Errorf("pay order %d: commit: %w", orderID, err)
	}
	return Payment{ID: id, OrderID: orderID, AmountCents: amountCents}, nil
}
