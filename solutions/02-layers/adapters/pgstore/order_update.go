package pgstore

import (
	"context"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// UpdateOrder loads the order with its row locked, lets fn apply the business rule, and stores the
// result; see app.OrderRepository.
//
// PostgreSQL's default isolation is READ COMMITTED: each statement sees what was committed before it
// started. A plain SELECT followed by an UPDATE therefore lets two transactions both read "pending" and
// both write "paid". SELECT ... FOR UPDATE locks the row: the second transaction waits at its SELECT
// until the first commits, then reads the new row. That is the same code as on MySQL, where the
// default REPEATABLE READ would not have saved a plain SELECT either (it reads the snapshot).
func (s *Store) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("update order %d: %w", id, err)
	}
	// Deferred, so a panic in fn ends the transaction too. WithoutCancel: with a cancelled ctx pgx
	// cannot send ROLLBACK and closes the connection instead, which also ends the transaction, but
	// costs a new connection.
	defer tx.Rollback(context.WithoutCancel(ctx))

	o, err := loadOrder(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err // the rule said no: leave the error as the domain made it
	}
	snap := o.Snapshot()
	_, err = tx.Exec(ctx, `UPDATE orders SET status = $1, payment_id = $2 WHERE id = $3`,
		snap.Status, nullString(snap.PaymentID), id)
	if err != nil {
		return fmt.Errorf("update order %d: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("update order %d: commit: %w", id, err)
	}
	return nil
}
