// Package app is the application layer: one method per use case, written against the interfaces in
// this file. The interfaces live here, with their consumer, and say only what the use cases need;
// adapters satisfy them without importing this package's concrete types (Go interfaces are implicit).
package app

import (
	"context"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// UserRepository stores users. Create returns domain.ErrConflict for a taken email; Get returns
// domain.ErrNotFound.
type UserRepository interface {
	CreateUser(ctx context.Context, u user.User) (user.User, error)
	GetUser(ctx context.Context, id int64) (user.User, error)
}

// ProductRepository stores products. Get returns domain.ErrNotFound.
type ProductRepository interface {
	CreateProduct(ctx context.Context, p product.Product) (product.Product, error)
	GetProduct(ctx context.Context, id int64) (product.Product, error)
}

// OrderRepository stores Order aggregates. The transaction lives inside it, never in the use case.
type OrderRepository interface {
	// CreateOrder takes the stock of every line and stores o, in one transaction: on error nothing is
	// stored and no stock is taken (product.ErrOutOfStock, domain.ErrNotFound for a missing product).
	// A non-empty idemKey makes it idempotent per user: a key seen before returns the order stored
	// then, and created = false.
	CreateOrder(ctx context.Context, o *order.Order, idemKey string) (stored *order.Order, created bool, err error)
	// GetOrder returns the order or domain.ErrNotFound.
	GetOrder(ctx context.Context, id int64) (*order.Order, error)
	// UpdateOrder loads the order, calls fn and stores what fn left, as one transaction that holds the
	// order against concurrent updates. When fn returns an error, nothing is stored and UpdateOrder
	// returns that error.
	UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error
}

// Payments charges money. A charge that returns an error took no money.
type Payments interface {
	Charge(ctx context.Context, orderID, amountCents int64) (paymentID string, err error)
}
