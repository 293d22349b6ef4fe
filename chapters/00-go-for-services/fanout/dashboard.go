// Package fanout builds one response from three backend calls made at the same time.
package fanout

import (
	"context"
	"errors"
)

// User, Order and the balance are what the three backends return.
type User struct {
	ID   string
	Name string
}

type Order struct {
	ID         string
	TotalCents int64
}

// Backends are the services a dashboard reads from. Each call honours ctx: it returns ctx.Err() soon after ctx is done.
type Backends interface {
	User(ctx context.Context, userID string) (User, error)
	Orders(ctx context.Context, userID string) ([]Order, error)
	BalanceCents(ctx context.Context, userID string) (int64, error)
}

// Dashboard is the aggregated response.
type Dashboard struct {
	User         User
	Orders       []Order
	BalanceCents int64
}

// Load calls the three backends concurrently and assembles a Dashboard.
//
// The first call to fail cancels the other two, and Load returns that first error (not the
// context.Canceled the others report after being cancelled). Load returns no later than ctx allows:
// past the caller's deadline it returns an error that wraps context.DeadlineExceeded. On every path,
// Load returns only after all three calls have returned.
func Load(ctx context.Context, b Backends, userID string) (Dashboard, error) {
	// TODO(00-fanout): run the three calls with golang.org/x/sync/errgroup.WithContext, pass the group's
	// context to each call, and build the Dashboard after Wait.
	return Dashboard{}, errors.New("TODO(00-fanout): Load is not implemented")
}
