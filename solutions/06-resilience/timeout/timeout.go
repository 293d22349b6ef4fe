// Package timeout gives every outbound call a deadline derived from the caller's: a budget per hop.
//
// A request arrives with some time left. Each downstream call may spend only a share of it, and the caller keeps
// a reserve for its own work after the call returns (writing the response, a fallback). When too little is left,
// the call is not made at all: it could not finish in time anyway, and it would only add load downstream.
package timeout

import (
	"context"
	"errors"
	"time"
)

// ErrNoBudget means too little of the caller's time is left for this hop: fail fast without calling.
var ErrNoBudget = errors.New("timeout: no time budget left for this hop")

// Budget says how much of the caller's remaining time one hop may spend.
type Budget struct {
	Fraction float64       // share of the remaining time (after Reserve) this hop may use, in (0, 1]
	Max      time.Duration // upper bound for the hop; also the hop's timeout when the caller has no deadline
	Reserve  time.Duration // time kept back for the caller's own work after the hop returns
	Min      time.Duration // a hop with less than this is not attempted: ErrNoBudget
}

// Derive returns how long the hop may take, for a caller whose context is ctx, at time now.
//
// With a caller deadline: (deadline - now - Reserve) * Fraction, capped at Max.
// Without one: Max. Less than Min (or nothing at all) is ErrNoBudget; a caller that is already done gets ctx.Err().
func (b Budget) Derive(ctx context.Context, now time.Time) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	hop := b.Max
	if deadline, ok := ctx.Deadline(); ok {
		// The reserve comes off first: it pays for what the caller still has to do when the hop returns.
		left := deadline.Sub(now) - b.Reserve
		hop = min(time.Duration(float64(left)*b.Fraction), b.Max)
	}
	if hop <= 0 || hop < b.Min {
		return 0, ErrNoBudget
	}
	return hop, nil
}

// Hop returns a context for one outbound call: a child of ctx (so the caller's cancellation still reaches the
// call) whose deadline is now + Derive(ctx, now). On error it returns no context.
func Hop(ctx context.Context, b Budget) (context.Context, context.CancelFunc, error) {
	d, err := b.Derive(ctx, time.Now())
	if err != nil {
		return nil, nil, err
	}
	hctx, cancel := context.WithTimeout(ctx, d)
	return hctx, cancel, nil
}
