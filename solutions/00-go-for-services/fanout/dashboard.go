// Package fanout builds one response from three backend calls made at the same time.
package fanout

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
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
	// errgroup.WithContext gives exactly the three properties we need: the group's ctx is cancelled
	// by the first error, Wait returns that first error only, and Wait waits for every goroutine,
	// so nothing outlives Load. A hand-written WaitGroup + error slice gets at least one of them wrong.
	g, ctx := errgroup.WithContext(ctx)

	// Each goroutine writes its own field of d, so no lock is needed; Wait is the happens-before edge
	// that makes the writes visible below.
	var d Dashboard
	g.Go(func() error {
		var err error // each goroutine its own err: one shared err would be a data race
		d.User, err = b.User(ctx, userID)
		return err
	})
	g.Go(func() error {
		var err error
		d.Orders, err = b.Orders(ctx, userID)
		return err
	})
	g.Go(func() error {
		var err error
		d.BalanceCents, err = b.BalanceCents(ctx, userID)
		return err
	})
	// The deadline needs no extra select: every call honours ctx, so each returns soon after it
	// expires and Wait comes back with the first of those errors (wrapping DeadlineExceeded).
	if err := g.Wait(); err != nil {
		return Dashboard{}, fmt.Errorf("load dashboard for %s: %w", userID, err)
	}
	return d, nil
}
