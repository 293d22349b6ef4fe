// Package pool runs a function over many items with a fixed number of workers.
package pool

import (
	"context"
	"errors"
	"fmt"
)

// ErrInvalidWorkers is returned when Map is asked to run with fewer than one worker.
var ErrInvalidWorkers = errors.New("pool: workers must be at least 1")

// Map calls fn once for every item, with at most workers calls in flight at any moment,
// and returns the results in the order of items (results[i] = fn(ctx, items[i])).
//
// However many items there are, it keeps about workers goroutines alive, not one per item.
// fn gets Map's ctx, so that calls in flight can stop early. When ctx is cancelled, Map starts no new
// call (not even for an item it already handed out or queued), waits for the calls in flight, and
// returns an error that wraps ctx.Err().
func Map[T, R any](ctx context.Context, workers int, items []T, fn func(ctx context.Context, item T) R) ([]R, error) {
	if workers < 1 {
		return nil, fmt.Errorf("%w: got %d", ErrInvalidWorkers, workers)
	}
	// TODO(00-pool): run fn over items with at most workers calls in flight, write each result at its
	// index, start no call once ctx is done, and wait for the calls in flight before returning.
	return nil, errors.New("TODO(00-pool): Map is not implemented")
}
