// Package shaving is peak shaving (削峰填谷): a burst of orders lands on a topic at the speed of the broker, and
// a consumer writes them to the database at the pace the database can take, with a bounded number of writes in
// flight. The topic is the buffer; the backlog (消息积压) is drained, not pushed onto MySQL at once.
package shaving

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Apply writes one record's effect to the database.
type Apply func(ctx context.Context, r *kgo.Record) error

// Drain polls cl (a consumer group member with autocommit off) until ctx is done and calls apply for every
// record, with at most limit calls in flight at any moment, using that concurrency while there is a backlog.
// It commits a poll's records only after every one of them was applied. When an apply fails, Drain returns its
// error (wrapped) without committing that poll; when ctx is done, it returns nil. A record's call starts only
// when a slot is free: a big poll must not pile up a goroutine per record waiting for one.
func Drain(ctx context.Context, cl *kgo.Client, limit int, apply Apply) error {
	// TODO(07-shaving): poll; apply the batch's records with at most limit in flight (and no fewer while records wait); wait for all; commit; repeat.
	return errors.New("TODO(07-shaving): Drain is not implemented")
}
