package shop

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// Store keeps users and orders in memory. It enforces the unique keys a database would:
// a user's email, and an order's request id. It is safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	nextID     int
	users      map[string]User
	emails     map[string]string // email -> user id
	orders     map[string]Order
	requestIDs map[string]string // request id -> order id
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		users:      map[string]User{},
		emails:     map[string]string{},
		orders:     map[string]Order{},
		requestIDs: map[string]string{},
	}
}

func (s *Store) newID(prefix string) string {
	s.nextID++
	return prefix + strconv.Itoa(s.nextID)
}

// CreateUser stores u under a new id. A taken email gives ErrAlreadyExists.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.emails[u.Email]; taken {
		return User{}, fmt.Errorf("create user %s: email %w", u.Email, ErrAlreadyExists)
	}
	u.ID = s.newID("u")
	s.users[u.ID] = u
	s.emails[u.Email] = u.ID
	return u, nil
}

// User returns the user with id, or ErrNotFound.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", id, ErrNotFound)
	}
	return u, nil
}

// CreateOrder stores o under a new id. A request id that was used before gives ErrAlreadyExists,
// exactly like a unique index on orders.request_id.
func (s *Store) CreateOrder(ctx context.Context, o Order) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, used := s.requestIDs[o.RequestID]; used {
		return Order{}, fmt.Errorf("create order: request id %q %w", o.RequestID, ErrAlreadyExists)
	}
	o.ID = s.newID("o")
	s.orders[o.ID] = o
	s.requestIDs[o.RequestID] = o.ID
	return o, nil
}

// Order returns the order with id, or ErrNotFound.
func (s *Store) Order(ctx context.Context, id string) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, fmt.Errorf("order %q: %w", id, ErrNotFound)
	}
	return o, nil
}

// OrderByRequestID returns the order created with requestID, or ErrNotFound.
func (s *Store) OrderByRequestID(ctx context.Context, requestID string) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.requestIDs[requestID]
	if !ok {
		return Order{}, fmt.Errorf("order for request %q: %w", requestID, ErrNotFound)
	}
	return s.orders[id], nil
}

// UpdateOrder loads order id, applies change and saves the result, all under one lock:
// if change returns an error, nothing is saved.
func (s *Store) UpdateOrder(ctx context.Context, id string, change func(*Order) error) (Order, error) {
	if err := ctx.Err(); err != nil {
		return Order{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, fmt.Errorf("order %q: %w", id, ErrNotFound)
	}
	if err := change(&o); err != nil {
		return Order{}, err
	}
	s.orders[id] = o
	return o, nil
}

// OrderCount returns how many orders exist. Tests use it to prove that a retry created nothing new.
func (s *Store) OrderCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orders)
}
