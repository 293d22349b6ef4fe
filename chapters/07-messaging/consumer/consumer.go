// Package consumer reads a topic as a member of a consumer group and commits offsets by hand: an offset is
// committed only once its record, and every record before it in its partition, has been processed. A record
// whose processing failed is delivered again after a restart (at-least-once: 至少一次).
package consumer

import (
	"context"
	"errors"

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
	// TODO(07-commit): join the group with automatic commits off; poll, handle in order, commit only what was handled; stop at the first failure.
	return errors.New("TODO(07-commit): consumer.Run is not implemented")
}
