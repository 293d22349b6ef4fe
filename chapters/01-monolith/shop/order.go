package shop

import (
	"context"
	"errors"
)

// PlaceOrder places an order for in.UserID and returns it. The bool is true when the order is a replay:
// an earlier request with the same in.IdempotencyKey already placed it.
//
// Errors: ErrNotFound for an unknown user or product, ErrOutOfStock when any line cannot be served,
// ErrInvalid for an empty order or a quantity below 1. On any error nothing is stored.
func (s *Store) PlaceOrder(ctx context.Context, in NewOrder) (Order, bool, error) {
	// TODO(01-stock-race): do everything in ONE transaction (s.db.BeginTx; defer tx.Rollback(); tx.Commit()):
	//   - check that the user exists;
	//   - for each item, take the stock in a way that two concurrent transactions cannot both see the
	//     last unit: SELECT ... FOR UPDATE, or a conditional UPDATE ... WHERE stock >= ? and RowsAffected;
	//   - read the unit price inside the transaction, and add up the total in integer cents;
	//   - insert the order (status pending) and its lines, then commit.
	//   Any error part-way must leave no trace: no order, no lines, no stock taken.
	// TODO(01-idempotency): when in.IdempotencyKey is not empty, claim (user, key) in the
	//   idempotency_keys table FIRST, inside the same transaction. A duplicate-key error (isDuplicateKey)
	//   means another request with this key got there first: roll back and return its order with true.
	//   Record the new order's id on the key row before committing.
	return Order{}, false, errors.New("TODO(01-stock-race): PlaceOrder is not implemented")
}
