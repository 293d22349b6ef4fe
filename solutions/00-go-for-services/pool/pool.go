// Package pool runs a function over many items with a fixed number of workers.
package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// Each worker writes only results[i] for the indexes it received, so no two goroutines touch the
	// same element and the slice needs no lock. Sending indexes (not items) is what keeps input order.
	results := make([]R, len(items))
	jobs := make(chan int) // unbuffered: an index leaves the feeder only when a worker is free

	var wg sync.WaitGroup
	// A fixed set of goroutines, created once and reused for every item. (A goroutine per item that is
	// started only after a semaphore slot frees up, as errgroup.SetLimit does, bounds the count just as
	// well; it pays a goroutine start per item instead, which is cheap next to a network call.)
	for range min(workers, len(items)) {
		wg.Go(func() {
			for i := range jobs {
				// The cancel may have come while this index waited in the channel or in the feeder's
				// select: checking here, right before the call, is the only place that sees it for sure.
				if ctx.Err() != nil {
					continue // drain without calling, so that the feeder never blocks
				}
				results[i] = fn(ctx, items[i])
			}
		})
	}

	var err error
feed:
	for i := range items {
		// select picks at random among ready cases, so check ctx first: a cancelled Map must not keep
		// handing out work just because a worker happens to be free. (The workers check again.)
		if err = ctx.Err(); err != nil {
			break
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs) // lets every worker's range loop end
	wg.Wait()   // no worker outlives Map
	if err != nil {
		return nil, fmt.Errorf("pool: stopped after cancel: %w", err)
	}
	return results, nil
}
