package pgstore

import (
	"context"
	"errors"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// UpdateOrder loads the order, lets fn apply the business rule, and stores the result, as one
// transaction; see app.OrderRepository.
func (s *Store) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	// TODO(02-postgres): the same steps as mysqlstore.UpdateOrder, in pgx: tx, err := s.pool.Begin(ctx),
	// then defer tx.Rollback(...) (a no-op after Commit), load the order with loadOrder(ctx, tx, id, true)
	// (FOR UPDATE), call fn, and only if fn succeeds UPDATE orders SET status = $1, payment_id = $2
	// WHERE id = $3 (nullString helps) and tx.Commit(ctx). Return fn's error unchanged.
	// PostgreSQL runs at READ COMMITTED by default: without FOR UPDATE two updates both read "pending".
	return errors.New("TODO(02-postgres): pgstore.UpdateOrder is not implemented")
}
