// Package service is the order service's business logic: it decides, the repository stores, and the ports
// below reach the other services. It knows no SQL and no gRPC; the transport layer maps its errors to codes.
package service

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/repository"
)

// Users is the user service, as the order service needs it.
type Users interface {
	// Exists says whether user id is registered. A failure to ask is an error, never false.
	Exists(ctx context.Context, id int64) (bool, error)
}

// Payments is the payment service, as the order service needs it.
type Payments interface {
	// Charge takes amountCents for orderID once per key: the same key again charges nothing more and returns
	// the first payment's id. An error may still mean the money was taken (the reply was lost).
	Charge(ctx context.Context, orderID, amountCents int64, key string) (paymentID int64, err error)
	// List returns the payments of orderID, oldest first. A failure to ask is an error, never an empty list.
	List(ctx context.Context, orderID int64) ([]domain.Payment, error)
}

// PaymentCloser closes an order's payment at the payment service (关单), as the saga's compensation needs it.
type PaymentCloser interface {
	// Close makes key unusable: no Charge with it succeeds afterwards. closed is false when key has charged
	// already; paymentID is then that charge. A failure to ask is an error, never closed.
	Close(ctx context.Context, orderID int64, key string) (closed bool, paymentID int64, err error)
}

// Service is the order service.
type Service struct {
	Repo     *repository.Repository
	Users    Users
	Payments Payments
	// Degrade, if not nil, turns a payment outage into a deferred payment (11-degrade, payments.go); nil
	// answers an outage with UNAVAILABLE, as 11-checkout does.
	Degrade *Degrade
	// Retries runs the deferred payments in the background; needed when Degrade is set.
	Retries *Retries
	// Closer closes the payment of an order that expired unpaid (11-saga, saga.go).
	Closer PaymentCloser
}

// CreateProduct adds a product to the catalogue.
func (s *Service) CreateProduct(ctx context.Context, p domain.Product) (domain.Product, error) {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 255 || p.PriceCents <= 0 || p.PriceCents > maxPriceCents || p.Stock < 0 {
		return domain.Product{}, fmt.Errorf("%w: a name of at most 255 characters, a price from 1 to %d cents and a stock of 0 or more",
			domain.ErrInvalid, int64(maxPriceCents))
	}
	return s.Repo.CreateProduct(ctx, p)
}

// Product returns one product.
func (s *Service) Product(ctx context.Context, id int64) (domain.Product, error) {
	return s.Repo.Product(ctx, id)
}

// Order returns one order.
func (s *Service) Order(ctx context.Context, id int64) (domain.Order, error) {
	return s.Repo.Order(ctx, id)
}

// PaymentKey is the idempotency key of order id's payment: one order is paid once, so the key is derived from
// the order and is the same on every retry, whoever retries.
func PaymentKey(orderID int64) string { return fmt.Sprintf("order-%d", orderID) }

// Bounds of an order. Their product is far below the largest int64, so a total never overflows into a negative
// (or tiny) amount that a client could then pay.
const (
	maxPriceCents = 10_000_000_000 // 100 million in the currency
	maxQuantity   = 1_000_000
	maxItems      = 100
	maxKeyLen     = 255 // the idempotency_key column
)

// validate checks a PlaceOrder command before anything is asked of other services.
func validate(cmd domain.PlaceOrder) error {
	if cmd.UserID <= 0 || len(cmd.Items) == 0 || len(cmd.Items) > maxItems {
		return fmt.Errorf("%w: a user_id and 1 to %d items", domain.ErrInvalid, maxItems)
	}
	if len(cmd.IdempotencyKey) > maxKeyLen {
		return fmt.Errorf("%w: an idempotency key of at most %d bytes", domain.ErrInvalid, maxKeyLen)
	}
	seen := map[int64]bool{}
	for _, it := range cmd.Items {
		if it.ProductID <= 0 || it.Quantity <= 0 || it.Quantity > maxQuantity {
			return fmt.Errorf("%w: every item needs a product_id and a quantity from 1 to %d", domain.ErrInvalid, maxQuantity)
		}
		if seen[it.ProductID] {
			return fmt.Errorf("%w: product %d listed twice", domain.ErrInvalid, it.ProductID)
		}
		seen[it.ProductID] = true
	}
	return nil
}

// total is the sum of the items' prices times quantities.
func total(items []domain.Item) int64 {
	var sum int64
	for _, it := range items {
		sum += it.PriceCents * int64(it.Quantity)
	}
	return sum
}
