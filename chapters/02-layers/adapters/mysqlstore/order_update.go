package mysqlstore

import (
	"context"
	"errors"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// UpdateOrder loads the order, lets fn apply the business rule, and stores the result, as one
// transaction; see app.OrderRepository.
func (s *Store) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	// TODO(02-repository): begin a transaction (defer tx.Rollback()), load the order with its row
	// locked (loadOrder(ctx, tx, id, true) adds FOR UPDATE), call fn, and only if fn succeeds write
	// status and payment_id back (nullString helps) and commit. Return fn's error unchanged.
	// Without the lock, two concurrent updates both read "pending" and both succeed.
	return errors.New("TODO(02-repository): UpdateOrder is not implemented")
}
