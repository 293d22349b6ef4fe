// Package hotconfig keeps the order service's limits in Consul KV and reloads them while the service runs:
// a change applies within moments, atomically, and a bad value never replaces a good one.
package hotconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
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

// Parse decodes and validates a value. It decodes into a fresh Limits, never into one that readers hold,
// so a value that fails half-way leaves nothing behind. Unknown fields are errors: a typo in a key name
// must not silently fall back to zero.
func Parse(raw []byte) (*Limits, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var l Limits
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// One value and nothing after it. Decode stops at the end of the first object, so `{...} {...}` or a stray
	// `}` would otherwise be accepted silently (dec.More() misses the brace: only EOF means the input is over).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Options tune a Watcher.
type Options struct {
	WaitTime   time.Duration   // bound on one blocking query; zero means 30s
	RetryAfter time.Duration   // pause after a failed query; zero means 200ms
	OnReject   func(err error) // told about every value rejected after the start (log it, count it); may be nil
}

// Watcher holds the current Limits and replaces them when the key changes.
type Watcher struct {
	// current is swapped whole: a reader gets either the old value or the new one, never a mix,
	// and without a lock on the read path, which every request takes.
	current atomic.Pointer[Limits]
	done    chan struct{}
}

// Current returns the limits in force. The value is shared and immutable: read it, never modify it.
func (w *Watcher) Current() *Limits { return w.current.Load() }

// Done is closed when the watch has stopped, after ctx is done.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Watch loads key and keeps following it until ctx is done.
// The first value must exist and be valid (errors wrap ErrMissing or ErrInvalid): a service that starts
// with a broken configuration should fail its start, where someone notices, not run on guesses.
// Later changes are pushed to us by blocking queries; a missing or invalid later value is reported to
// OnReject and the last good value stays.
func Watch(ctx context.Context, kv *api.KV, key string, opts Options) (*Watcher, error) {
	if opts.WaitTime <= 0 {
		opts.WaitTime = 30 * time.Second
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 200 * time.Millisecond
	}
	pair, meta, err := kv.Get(key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	first, err := decode(key, pair)
	if err != nil {
		return nil, err
	}
	w := &Watcher{done: make(chan struct{})}
	w.current.Store(first)
	go w.follow(ctx, kv, key, meta.LastIndex, opts)
	return w, nil
}

func (w *Watcher) follow(ctx context.Context, kv *api.KV, key string, index uint64, opts Options) {
	defer close(w.done)
	reject := func(err error) {
		if opts.OnReject != nil {
			opts.OnReject(err)
		}
	}
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: opts.WaitTime}).WithContext(ctx)
		pair, meta, err := kv.Get(key, q)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// Consul is unreachable: keep serving with what we have and ask again soon.
			index = 0
			select {
			case <-ctx.Done():
				return
			case <-time.After(opts.RetryAfter):
			}
			continue
		}
		changed := meta.LastIndex != index
		if meta.LastIndex < index {
			index = 0 // Consul lost its state; start over
		} else {
			index = meta.LastIndex
		}
		if !changed {
			continue // the wait ran out with nothing new
		}
		next, err := decode(key, pair)
		if err != nil {
			reject(err)
			continue
		}
		w.current.Store(next)
	}
}

func decode(key string, pair *api.KVPair) (*Limits, error) {
	if pair == nil {
		return nil, fmt.Errorf("%s: %w", key, ErrMissing)
	}
	l, err := Parse(pair.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return l, nil
}
