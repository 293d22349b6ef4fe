// Package ordercache puts a Redis cache-aside in front of an order repository. It is a decorator: it
// has the repository's methods, so the service cannot tell whether it talks to the cache or not.
package ordercache

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// Repository is what the cache wraps. It is declared here, by its consumer, and matches
// app.OrderRepository without importing it.
type Repository interface {
	CreateOrder(ctx context.Context, o *order.Order, idemKey string) (*order.Order, bool, error)
	GetOrder(ctx context.Context, id int64) (*order.Order, error)
	UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error
}

// Options configure a Cache.
type Options struct {
	Prefix string        // every key starts with it
	TTL    time.Duration // how long an entry lives at least
	Jitter time.Duration // up to this much is added at random to each entry's TTL
}

// Cache is a read-through, invalidate-on-write cache of orders.
type Cache struct {
	next Repository
	rdb  redis.UniversalClient
	opts Options
}

// New wraps next.
func New(next Repository, rdb redis.UniversalClient, opts Options) *Cache {
	return &Cache{next: next, rdb: rdb, opts: opts}
}

func (c *Cache) key(id int64) string { return c.opts.Prefix + "order:" + strconv.FormatInt(id, 10) }

// ttl spreads expiry: entries filled together (after a deploy, a cold start) would otherwise all
// expire in the same second and send every reader to MySQL at once (a cache avalanche).
func (c *Cache) ttl() time.Duration {
	if c.opts.Jitter <= 0 {
		return c.opts.TTL
	}
	return c.opts.TTL + rand.N(c.opts.Jitter)
}

// CreateOrder passes through: a new order is not in the cache yet, and a replayed one was never changed.
func (c *Cache) CreateOrder(ctx context.Context, o *order.Order, idemKey string) (*order.Order, bool, error) {
	return c.next.CreateOrder(ctx, o, idemKey)
}

// GetOrder is cache-aside: try Redis, on a miss read the repository and fill Redis. Redis trouble is
// not the caller's problem: the cache is an optimisation, so on any Redis error it reads through.
func (c *Cache) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	raw, err := c.rdb.Get(ctx, c.key(id)).Bytes()
	if err == nil {
		var snap order.Snapshot
		if err := json.Unmarshal(raw, &snap); err == nil {
			if o, err := order.FromSnapshot(snap); err == nil {
				return o, nil
			}
		}
	}
	// A miss (redis.Nil), a corrupt entry or Redis trouble: read through and (re)fill.

	o, err := c.next.GetOrder(ctx, id)
	if err != nil {
		return nil, err // not found is not cached here; see the README on cache penetration
	}
	if buf, err := json.Marshal(o.Snapshot()); err == nil {
		_ = c.rdb.Set(ctx, c.key(id), buf, c.ttl()).Err() // best effort
	}
	return o, nil
}

// UpdateOrder writes through the repository FIRST and deletes the entry AFTER the commit. Deleting
// before the write leaves a window in which a reader misses, reads the old row and puts it back, and
// the stale entry then lives for a whole TTL. Deleting (not updating) the entry means a concurrent
// reader can at worst re-fill it with the already committed state.
//
// A failed delete does not fail the update: the write has committed (a payment was taken), and an error
// here would tell the client that it failed, so the client would pay again. The cache is an
// optimisation; an entry that could not be deleted expires within TTL + Jitter.
func (c *Cache) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	if err := c.next.UpdateOrder(ctx, id, fn); err != nil {
		return err
	}
	_ = c.rdb.Del(ctx, c.key(id)).Err() // best effort, see above
	return nil
}
