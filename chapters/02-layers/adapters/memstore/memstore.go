// Package memstore is an in-memory implementation of the app's repositories. It is the fake that
// service tests run on, and the contract suite (adapters/storetest) proves it behaves like MySQL.
package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

type idemKey struct {
	userID int64
	key    string
}

// Store keeps everything in maps behind one mutex. Every method first returns ctx.Err() when ctx is
// done, as the MySQL adapter does; a fake that ignored ctx would let service tests pass that charge a
// customer on a request the client had already abandoned. Orders are stored as snapshots, so nobody outside
// can hold a pointer into the store's state.
type Store struct {
	mu       sync.Mutex
	nextID   int64
	users    map[int64]user.User
	emails   map[string]bool
	products map[int64]product.Product
	orders   map[int64]order.Snapshot
	keys     map[idemKey]int64
}

// New returns an empty store.
func New() *Store {
	return &Store{
		users: map[int64]user.User{}, emails: map[string]bool{}, products: map[int64]product.Product{},
		orders: map[int64]order.Snapshot{}, keys: map[idemKey]int64{},
	}
}

func (s *Store) id() int64 { s.nextID++; return s.nextID }

func (s *Store) CreateUser(ctx context.Context, u user.User) (user.User, error) {
	if err := ctx.Err(); err != nil {
		return user.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emails[u.Email] {
		return user.User{}, fmt.Errorf("email %q: %w", u.Email, user.ErrEmailTaken)
	}
	u.ID = s.id()
	s.users[u.ID], s.emails[u.Email] = u, true
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, id int64) (user.User, error) {
	if err := ctx.Err(); err != nil {
		return user.User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return user.User{}, fmt.Errorf("user %d: %w", id, domain.ErrNotFound)
	}
	return u, nil
}

func (s *Store) CreateProduct(ctx context.Context, p product.Product) (product.Product, error) {
	if err := ctx.Err(); err != nil {
		return product.Product{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.ID = s.id()
	s.products[p.ID] = p
	return p, nil
}

func (s *Store) GetProduct(ctx context.Context, id int64) (product.Product, error) {
	if err := ctx.Err(); err != nil {
		return product.Product{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.products[id]
	if !ok {
		return product.Product{}, fmt.Errorf("product %d: %w", id, domain.ErrNotFound)
	}
	return p, nil
}

func (s *Store) CreateOrder(ctx context.Context, o *order.Order, key string) (*order.Order, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey{o.UserID(), key}
	if id, ok := s.keys[k]; key != "" && ok {
		stored, err := order.FromSnapshot(s.orders[id])
		return stored, false, err
	}
	// Check every line before changing anything: that is this fake's "transaction".
	for _, l := range o.Lines() {
		p, ok := s.products[l.ProductID]
		if !ok {
			return nil, false, fmt.Errorf("product %d: %w", l.ProductID, domain.ErrNotFound)
		}
		if p.Stock < l.Quantity {
			return nil, false, fmt.Errorf("product %d: %w", l.ProductID, product.ErrOutOfStock)
		}
	}
	for _, l := range o.Lines() {
		p := s.products[l.ProductID]
		p.Stock -= l.Quantity
		s.products[l.ProductID] = p
	}
	snap := o.Snapshot()
	snap.ID = s.id()
	s.orders[snap.ID] = snap
	if key != "" {
		s.keys[k] = snap.ID
	}
	stored, err := order.FromSnapshot(snap)
	return stored, true, err
}

func (s *Store) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.orders[id]
	if !ok {
		return nil, fmt.Errorf("order %d: %w", id, domain.ErrNotFound)
	}
	return order.FromSnapshot(snap)
}

// UpdateOrder holds the store's lock while fn runs, so updates of one order never interleave. fn works
// on a fresh copy; only when it succeeds is the copy's state stored. fn must not call the store. Like
// a database's BeginTx, it refuses a cancelled ctx before it calls fn: the caller has given up.
func (s *Store) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, ok := s.orders[id]
	if !ok {
		return fmt.Errorf("order %d: %w", id, domain.ErrNotFound)
	}
	o, err := order.FromSnapshot(snap)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err
	}
	s.orders[id] = o.Snapshot()
	return nil
}
