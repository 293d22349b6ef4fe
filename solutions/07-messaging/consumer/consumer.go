// Package consumer reads a topic as a member of a consumer group and commits offsets by hand: an offset is
// committed only once its record, and every record before it in its partition, has been processed. A record
// whose processing failed is delivered again after a restart (at-least-once: 至少一次).
package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says what to consume.
type Config struct {
	Brokers []string
	Group   string // consumer group: members share the partitions, and the group's offsets survive restarts
	Topic   string
}

// Handler processes one record. An error means "not processed": the record must be delivered again.
type Handler func(ctx context.Context, r *kgo.Record) error

// Run consumes cfg.Topic as a member of cfg.Group, from the start of the topic when the group has no offset yet,
// and calls h for each record, in order within a partition.
//
// It commits a record's offset only after h returned nil for it and for every record before it in its
// partition. When h fails, Run stops calling h, commits what was processed, and returns h's error wrapped: the
// next Run of the group starts at the failed record. When ctx is cancelled, Run commits what was processed and
// returns nil.
func Run(ctx context.Context, cfg Config, h Handler) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Autocommit (the default) commits what was polled, on a timer and at Close, whether or not it was
		// processed: a crash or a failure after the commit loses the record.
		kgo.DisableAutoCommit(),
		// No rebalance between a poll and its commit: the partitions we commit are still ours. We allow it again
		// after each batch.
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return fmt.Errorf("consumer client: %w", err)
	}
	defer func() {
		cl.AllowRebalance() // leaving the group is a rebalance too
		cl.Close()          // leaves the group at once, so a restarted member gets the partitions without waiting
	}()

	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // everything handled so far is committed already
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll %s: %w", cfg.Topic, err)
		}
		var handled []*kgo.Record
		var failed error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if failed != nil {
					return // nothing after a failure: its offset would cover the failed record
				}
				if err := h(ctx, r); err != nil {
					failed = fmt.Errorf("handle %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
					return
				}
				handled = append(handled, r)
			}
		})
		// CommitRecords commits offset+1 of the last handled record per partition: where the group resumes.
		// It must finish even when ctx was just cancelled, or handled work is delivered again.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := cl.CommitRecords(cctx, handled...)
		cancel()
		if err != nil {
			return fmt.Errorf("commit %d records: %w", len(handled), err)
		}
		if failed != nil {
			if ctx.Err() != nil {
				return nil // the handler failed because we are stopping
			}
			return failed
		}
		cl.AllowRebalance()
	}
}
