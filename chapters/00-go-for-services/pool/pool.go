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
// It never starts more than workers goroutines, however many items there are.
// When ctx is cancelled, Map starts no new calls, waits for the calls in flight,
// and returns an error that wraps ctx.Err().
func Map[T, R any](ctx context.Context, workers int, items []T, fn func(ctx context.Context, item T) R) ([]R, error) {
	if workers < 1 {
		return nil, fmt.Errorf("%w: got %d", ErrInvalidWorkers, workers)
	}
	// TODO(00-pool): start min(workers, len(items)) workers that take item indexes from a channel,
	// write each result at its index, stop feeding when ctx is done, and wait for the workers.
	return nil, errors.New("TODO(00-pool): Map is not implemented")
}
