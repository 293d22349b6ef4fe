// Package cancel asks several replicas the same question and keeps the first answer.
// It is the smallest place where a goroutine can outlive the request that started it.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Replica answers a lookup. A well-behaved replica returns promptly once ctx is done.
type Replica func(ctx context.Context, key string) (string, error)

// ErrNoReplicas is returned when First is given nothing to ask.
var ErrNoReplicas = errors.New("cancel: no replicas to ask")

// First asks every replica concurrently and returns the first successful answer.
//
// Its contract:
//   - as soon as one replica answers, the others are cancelled;
//   - if ctx is done first (the caller's deadline passed), First returns an error that wraps ctx.Err(),
//     even when the replicas it cut off fail with errors of their own;
//   - if every replica fails, First returns an error that wraps each replica's error;
//   - when First returns, every goroutine it started has exited, the losers included: nothing keeps
//     running for a caller who left.
func First(ctx context.Context, key string, replicas []Replica) (string, error) {
	if len(replicas) == 0 {
		return "", ErrNoReplicas
	}
	// A child context lets us stop the losers without touching the caller's context.
	callCtx, cancel := context.WithCancel(ctx)

	type result struct {
		val string
		err error
	}
	// Buffered to len(replicas): every goroutine can deliver its result and exit even after we
	// stopped reading. With an unbuffered channel the losers would block on send forever (the classic leak).
	results := make(chan result, len(replicas))
	var wg sync.WaitGroup
	for _, ask := range replicas {
		wg.Go(func() {
			val, err := ask(callCtx, key)
			results <- result{val, err}
		})
	}
	// Runs on every return path: cancel first so the losers stop, then wait so that none outlives First.
	// Waiting costs little because replicas honour ctx, and it makes leaks impossible rather than unlikely.
	defer func() {
		cancel()
		wg.Wait()
	}()

	var errs []error
	for range replicas {
		select {
		case r := <-results:
			if r.err == nil {
				return r.val, nil
			}
			errs = append(errs, r.err)
		case <-ctx.Done():
			return "", fmt.Errorf("first %q: %w", key, ctx.Err())
		}
	}
	// Every replica failed. If the caller's deadline passed meanwhile, it is the cause: a replica cut off
	// by cancellation may report its own error ("connection closed") instead of ctx.Err().
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("first %q: %w (replicas: %w)", key, err, errors.Join(errs...))
	}
	return "", fmt.Errorf("first %q: every replica failed: %w", key, errors.Join(errs...))
}
