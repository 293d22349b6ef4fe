// Package shaving is peak shaving (削峰填谷): a burst of orders lands on a topic at the speed of the broker, and
// a consumer writes them to the database at the pace the database can take, with a bounded number of writes in
// flight. The topic is the buffer; the backlog (消息积压) is drained, not pushed onto MySQL at once.
package shaving

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"
)

// Apply writes one record's effect to the database.
type Apply func(ctx context.Context, r *kgo.Record) error

// Drain polls cl (a consumer group member with autocommit off) until ctx is done and calls apply for every
// record, with at most limit calls in flight at any moment, using that concurrency while there is a backlog.
// It commits a poll's records only after every one of them was applied. When an apply fails, Drain returns its
// error (wrapped) without committing that poll; when ctx is done, it returns nil. A record's call starts only
// when a slot is free: a big poll must not pile up a goroutine per record waiting for one.
func Drain(ctx context.Context, cl *kgo.Client, limit int, apply Apply) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		// The bound is the point: the database sees at most limit writes at once, however big the backlog.
		// g.Go blocks while limit calls are running, so no record is dropped and no goroutine piles up.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(limit)
		records := fs.Records()
		for _, r := range records {
			g.Go(func() error { return apply(gctx, r) })
		}
		if err := g.Wait(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("apply: %w", err) // not committed: the poll is delivered again after a restart
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := cl.CommitRecords(cctx, records...)
		cancel()
		if err != nil {
			return fmt.Errorf("commit %d records: %w", len(records), err)
		}
	}
}
