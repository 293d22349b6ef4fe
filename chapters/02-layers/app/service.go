package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// Service is the shop's use cases. Its methods read like the business: load, decide (in the domain),
// store. They know no SQL, no HTTP and no Redis.
type Service struct {
	users    UserRepository
	products ProductRepository
	orders   OrderRepository
	payments Payments
}

// NewService refuses missing dependencies now, instead of a nil-pointer panic on the first request.
func NewService(users UserRepository, products ProductRepository, orders OrderRepository, payments Payments) (*Service, error) {
	if users == nil || products == nil || orders == nil || payments == nil {
		return nil, errors.New("app.NewService: every dependency is required")
	}
	return &Service{users: users, products: products, orders: orders, payments: payments}, nil
}

// CreateUser registers a customer.
func (s *Service) CreateUser(ctx context.Context, name, email string) (user.User, error) {
	u, err := user.New(name, email)
	if err != nil {
		return user.User{}, err
	}
	u, err = s.users.CreateUser(ctx, u)
	if err != nil {
		return user.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// GetUser returns a customer.
func (s *Service) GetUser(ctx context.Context, id int64) (user.User, error) {
	return s.users.GetUser(ctx, id)
}

// CreateProduct adds a product to the catalogue.
func (s *Service) CreateProduct(ctx context.Context, name string, priceCents int64, stock int) (product.Product, error) {
	p, err := product.New(name, priceCents, stock)
	if err != nil {
		return product.Product{}, err
	}
	p, err = s.products.CreateProduct(ctx, p)
	if err != nil {
		return product.Product{}, fmt.Errorf("create product: %w", err)
	}
	return p, nil
}

// GetProduct returns a product.
func (s *Service) GetProduct(ctx context.Context, id int64) (product.Product, error) {
	return s.products.GetProduct(ctx, id)
}
