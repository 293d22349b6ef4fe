package service

import (
	"context"
	"time"
)

// Expiry says when an unpaid order expires, and how often an instance looks for expired orders.
type Expiry struct {
	PayWithin time.Duration // how long an order may stay pending, counted from when it was placed
	Every     time.Duration // the pause between two looks
	Batch     int           // at most this many orders per look (0: 100)
}

// ExpireDue runs ExpireOrder on the orders pending for longer than e.PayWithin, oldest first, and tells done
// (which may be nil) what became of each: its status afterwards, or "" and the error. Every instance of the
// order service runs it on its own timer, with no leader and no lock between them: ExpireOrder must be safe
// when two instances run it on one order at once. An order that fails stays pending and is tried again on
// the next look. The error returned is the look's own (the due orders could not be read).
func (s *Service) ExpireDue(ctx context.Context, e Expiry, done func(orderID int64, status string, err error)) error {
	batch := e.Batch
	if batch <= 0 {
		batch = 100
	}
	ids, err := s.Repo.PendingSince(ctx, e.PayWithin, batch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		o, err := s.ExpireOrder(ctx, id)
		if done != nil {
			done(id, string(o.Status), err)
		}
	}
	return nil
}
