package server

import (
	"context"

	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
)

// createOnce stores o unless an order with o.RequestID exists already, in which case it returns
// that order: a retried CreateOrder (say, the first response was lost on the way back) must not
// place a second order, and must answer with the first one.
//
// The store rejects a reused request id with shop.ErrAlreadyExists, like a unique index would.
// Concurrent calls with the same request id must all get the same single order.
// A request id is the client's key, not a secret: if it belongs to another user's order, answer
// shop.ErrAlreadyExists and never that order.
func (s *OrderServer) createOnce(ctx context.Context, o shop.Order) (shop.Order, error) {
	// TODO(03-retry): make this idempotent on o.RequestID. A repeated request id must return
	// the order the first call created, not an error, and never a second order.
	return s.orders.CreateOrder(ctx, o)
}
