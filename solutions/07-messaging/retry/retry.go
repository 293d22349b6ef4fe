// Package retry handles messages that fail: a retry topic for the failures that may pass next time, a dead-letter
// topic (死信队列) after N attempts or for a message no retry can fix, so that one bad message never blocks its
// partition; and a delayed "close unpaid order" (延时关单) that never closes an order that was paid meanwhile.
package retry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// AttemptHeader carries how many times a record has been tried; a record without it is on its first attempt.
const AttemptHeader = "attempt"

// ErrPermanent marks a failure no retry can fix (a malformed message): such a record is dead-lettered at once.
var ErrPermanent = errors.New("permanent failure")

// Attempt returns r's attempt number: the value of its AttemptHeader, or 1 without one.
func Attempt(r *kgo.Record) int {
	for _, h := range r.Headers {
		if h.Key == AttemptHeader {
			if n, err := strconv.Atoi(string(h.Value)); err == nil && n > 0 {
				return n
			}
		}
	}
	return 1
}

// Producer publishes records and waits for the broker's answer. *kgo.Client is one.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Router sends failed records on: to RetryTopic for another attempt, or to DLQTopic.
type Router struct {
	Producer    Producer
	RetryTopic  string
	DLQTopic    string
	MaxAttempts int // attempts in all, the first included
}

// Process runs h on r (a record of the main topic or of RetryTopic). When h fails, it republishes r with the same
// key and value and its attempt number + 1 in AttemptHeader to RetryTopic; or, when r was attempt MaxAttempts or
// h's error is ErrPermanent, to DLQTopic with r's attempt number. It returns nil once r is dealt with (h
// succeeded, or r was republished: the caller may commit r), and an error only when republishing failed (the
// caller must not commit r).
func (rt *Router) Process(ctx context.Context, r *kgo.Record, h func(ctx context.Context, r *kgo.Record) error) error {
	herr := h(ctx, r)
	if herr == nil {
		return nil
	}
	attempt := Attempt(r)
	out := &kgo.Record{Key: r.Key, Value: r.Value} // the same key: the record stays with its order's partition
	if attempt >= rt.MaxAttempts || errors.Is(herr, ErrPermanent) {
		// Dead-lettered: out of the way of the records behind it; someone looks at it (and replays it) later.
		out.Topic = rt.DLQTopic
		out.Headers = withHeader(r.Headers, AttemptHeader, strconv.Itoa(attempt))
		out.Headers = withHeader(out.Headers, "error", herr.Error())
	} else {
		out.Topic = rt.RetryTopic
		out.Headers = withHeader(r.Headers, AttemptHeader, strconv.Itoa(attempt+1))
	}
	// Synchronously: only a republished record may be committed, or a failure here loses it.
	if err := rt.Producer.ProduceSync(ctx, out).FirstErr(); err != nil {
		return fmt.Errorf("republish %s@%d to %s after %v: %w", r.Topic, r.Offset, out.Topic, herr, err)
	}
	return nil
}

// DueHeader carries when a delayed request becomes due, as RFC 3339 with nanoseconds.
const DueHeader = "due"

// ErrNotDue says a delayed request arrived before its time: the consumer must keep it and try again later
// (pause the partition, or wait), not drop it.
var ErrNotDue = errors.New("not due yet")

// Closer closes orders that are still unpaid some time after they were placed.
type Closer struct {
	DB    *sql.DB
	Now   func() time.Time // the clock; tests move it
	Delay time.Duration    // how long an order may stay unpaid
	Topic string           // where close requests go
}

// Request returns the record that asks to close orderID once Delay has passed from now: key and value are the
// order id, DueHeader is Now()+Delay.
func (c *Closer) Request(orderID string) *kgo.Record {
	due := c.Now().Add(c.Delay).UTC().Format(time.RFC3339Nano)
	return &kgo.Record{Topic: c.Topic, Key: []byte(orderID), Value: []byte(orderID),
		Headers: []kgo.RecordHeader{{Key: DueHeader, Value: []byte(due)}}}
}

// Close handles a close request: ErrNotDue before its due time; then it closes the order if, and only if, it is
// still unpaid, even when a payment commits at the same moment: (true, nil) when it closed it, (false, nil) when
// the order was paid (or closed) already.
func (c *Closer) Close(ctx context.Context, r *kgo.Record) (closed bool, err error) {
	var due time.Time
	for _, h := range r.Headers {
		if h.Key == DueHeader {
			if due, err = time.Parse(time.RFC3339Nano, string(h.Value)); err != nil {
				return false, fmt.Errorf("close request %s: bad %s header: %w", r.Key, DueHeader, ErrPermanent)
			}
		}
	}
	if c.Now().Before(due) {
		return false, ErrNotDue
	}
	// One statement decides: the WHERE is evaluated on the row's latest committed version under its lock, so a
	// payment that commits first wins and we change nothing. A SELECT before the UPDATE would read a stale status.
	res, err := c.DB.ExecContext(ctx, "UPDATE orders SET status = 'closed' WHERE id = ? AND status = 'unpaid'", string(r.Value))
	if err != nil {
		return false, fmt.Errorf("close order %s: %w", r.Value, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("close order %s: %w", r.Value, err)
	}
	return n == 1, nil
}

// withHeader returns a copy of hs with key set to value.
func withHeader(hs []kgo.RecordHeader, key, value string) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(hs)+1)
	for _, h := range hs {
		if h.Key != key {
			out = append(out, h)
		}
	}
	return append(out, kgo.RecordHeader{Key: key, Value: []byte(value)})
}
