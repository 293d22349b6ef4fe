// Package cancel asks several replicas the same question and keeps the first answer.
// It is the smallest place where a goroutine can outlive the request that started it.
package cancel

import (
	"context"
	"errors"
)

// Replica answers a lookup. A well-behaved replica returns promptly once ctx is done.
type Replica func(ctx context.Context, key string) (string, error)

// ErrNoReplicas is returned when First is given nothing to ask.
var ErrNoReplicas = errors.New("cancel: no replicas to ask")

// errTODO is what the starter returns until the exercise is done.
var errTODO = errors.New("TODO(00-cancel): First is not implemented")

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
	// TODO(00-cancel): start one goroutine per replica with a context you can cancel, return the first
	// answer, stop waiting when ctx is done, cancel the losers, and wait for every goroutine before returning.
	return "", errTODO
}
