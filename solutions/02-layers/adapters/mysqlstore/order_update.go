package mysqlstore

import (
	"context"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// UpdateOrder loads the order with its row locked, lets fn apply the business rule, and stores the
// result; see app.OrderRepository.
//
// The transaction and the lock are here, in the adapter; the rule is in fn, from the use case. SELECT
// ... FOR UPDATE makes a second UpdateOrder of the same order wait until the first commits and then
// read the new state, so two payments cannot both see "pending" (a lost update). If fn fails, the
// deferred Rollback discards everything, and fn's changes to the in-memory order are simply dropped.
func (s *Store) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update order %d: %w", id, err)
	}
	defer tx.Rollback()

	o, err := loadOrder(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err // the rule said no: leave the error as the domain made it
	}
	// Only status and payment change after creation; the aggregate has no method that edits lines.
	snap := o.Snapshot()
	_, err = tx.ExecContext(ctx, `UPDATE orders SET status = ?, payment_id = ? WHERE id = ?`,
		snap.Status, nullString(snap.PaymentID), id)
	if err != nil {
		return fmt.Errorf("update order %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update order %d: commit: %w", id, err)
	}
	return nil
}
