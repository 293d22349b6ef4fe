// Package hotconfig keeps the order service's limits in Consul KV and reloads them while the service runs:
// a change applies within moments, atomically, and a bad value never replaces a good one.
package hotconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
)

var (
	// ErrMissing means the key does not exist in Consul KV.
	ErrMissing = errors.New("config key missing")
	// ErrInvalid means the value cannot be decoded or breaks a rule.
	ErrInvalid = errors.New("invalid config")
)

// Limits are the order service's tunables, kept in Consul KV as JSON.
type Limits struct {
	MinOrderCents int64 `json:"min_order_cents"`
	MaxOrderCents int64 `json:"max_order_cents"`
	MaxItems      int   `json:"max_items"`
}

// Validate checks the rules a usable configuration follows.
func (l Limits) Validate() error {
	switch {
	case l.MinOrderCents <= 0:
		return fmt.Errorf("%w: min_order_cents must be positive, got %d", ErrInvalid, l.MinOrderCents)
	case l.MaxOrderCents < l.MinOrderCents:
		return fmt.Errorf("%w: max_order_cents %d is below min_order_cents %d", ErrInvalid, l.MaxOrderCents, l.MinOrderCents)
	case l.MaxItems <= 0:
		return fmt.Errorf("%w: max_items must be positive, got %d", ErrInvalid, l.MaxItems)
	}
	return nil
}

// Parse decodes and validates a value.
func Parse(raw []byte) (*Limits, error) {
	// TODO(05-config): decode raw into a fresh Limits (unknown fields are errors), then Validate it.
	// Every failure wraps ErrInvalid.
	return nil, errors.New("TODO(05-config): Parse does not decode yet")
}

// Options tune a Watcher.
type Options struct {
	WaitTime   time.Duration   // bound on one blocking query; zero means 30s
	RetryAfter time.Duration   // pause after a failed query; zero means 200ms
	OnReject   func(err error) // told about every value rejected after the start (log it, count it); may be nil
}

// Watcher holds the current Limits and replaces them when the key changes.
type Watcher struct {
	// TODO(05-config): hold the current *Limits so that a reader never sees a half-written value.
	done chan struct{}
}

// Current returns the limits in force. The value is shared and immutable: read it, never modify it.
func (w *Watcher) Current() *Limits {
	// TODO(05-config): return the limits in force.
	return nil
}

// Done is closed when the watch has stopped, after ctx is done.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Watch loads key and keeps following it until ctx is done.
// The first value must exist and be valid (errors wrap ErrMissing or ErrInvalid).
// Later changes arrive through blocking queries; a missing or invalid later value is reported to
// OnReject and the last good value stays.
func Watch(ctx context.Context, kv *api.KV, key string, opts Options) (*Watcher, error) {
	// TODO(05-config): read key (kv.Get), Parse it and keep it; then, in a goroutine that closes done when ctx
	// ends, loop on kv.Get with QueryOptions{WaitIndex, WaitTime}.WithContext(ctx), swapping in each valid new value.
	// A zero opts.WaitTime means 30s and a zero opts.RetryAfter means 200ms: apply those defaults first.
	return nil, errors.New("TODO(05-config): Watch does not read or follow the key yet")
}
