package server

import (
	"context"
	"errors"
	"fmt"

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
	// Insert first and let the unique key decide, instead of "look up, then insert if absent":
	// two concurrent retries could both miss the lookup, and one of them would then fail.
	// The store's unique key is the single arbiter, exactly as a database's unique index would be.
	created, err := s.orders.CreateOrder(ctx, o)
	if err == nil {
		return created, nil
	}
	if !errors.Is(err, shop.ErrAlreadyExists) {
		return shop.Order{}, err
	}
	// The request id was used before: this is a retry or a double submit. Answer with the first order.
	// (A stricter service would also check that the retry carries the same user, sku and quantity,
	// and reject a reused key with different content, as payment APIs do.)
	first, err := s.orders.OrderByRequestID(ctx, o.RequestID)
	if err != nil {
		return shop.Order{}, fmt.Errorf("load order for repeated request %q: %w", o.RequestID, err)
	}
	if first.UserID != o.UserID {
		// Someone else's key (a guess, or a collision). Answering with their order would leak it.
		return shop.Order{}, fmt.Errorf("request id %q: %w", o.RequestID, shop.ErrAlreadyExists)
	}
	return first, nil
}
