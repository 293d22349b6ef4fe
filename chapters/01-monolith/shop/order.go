package shop

import (
	"context"
	"errors"
)

// PlaceOrder places an order for in.UserID and returns it. The bool is true when the order is a replay:
// an earlier request with the same in.IdempotencyKey already placed it.
//
// Errors: ErrNotFound for an unknown user or product, ErrOutOfStock when any line cannot be served,
// ErrInvalid for an empty order or a quantity below 1, ErrKeyReused for a known key with other items.
// On any error nothing is stored.
func (s *Store) PlaceOrder(ctx context.Context, in NewOrder) (Order, bool, error) {
	// TODO(01-stock-race): place the order so that these hold (the hints go from the idea to the mechanism):
	//   - the whole order happens in ONE database transaction: it is stored completely or not at all;
	//   - 20 buyers racing for the last unit of a product: exactly one wins, the others get ErrOutOfStock,
	//     and stock never goes below zero;
	//   - an error part-way (second line out of stock, unknown product, unknown user) leaves no trace:
	//     no order, no lines, no stock taken, and no transaction left open holding locks;
	//   - two orders for the same products, listed in opposite orders, never deadlock each other;
	//   - the order has status pending; each line keeps the unit price at the time of the order, and the
	//     total is exact, in integer cents.
	// TODO(01-idempotency): when in.IdempotencyKey is not empty, a retried request with the same user and
	//   key never creates a second order: it returns the first order with true, and takes no more stock.
	//   - This must hold even when the retries arrive concurrently, before the first one has finished.
	//   - The same key from a different user is a different request, and never sees the other's order.
	//   - The same key with different items is ErrKeyReused, not a replay.
	//   - A request that failed (out of stock) leaves its key unused, so a retry may succeed later; and
	//     concurrent retries of a failing request each get that failure, never a database error.
	return Order{}, false, errors.New("TODO(01-stock-race): PlaceOrder is not implemented")
}
