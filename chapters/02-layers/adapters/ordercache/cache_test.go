package ordercache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/memstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/ordercache"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
	"github.com/gomicrolab/microlab/infra"
)

// spy wraps the real (in-memory) repository: it counts reads, and can run a hook while a write is
// in flight (before it commits), which is when a concurrent reader does its damage.
type spy struct {
	*memstore.Store
	gets         atomic.Int64
	duringUpdate func()
}

func (s *spy) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	s.gets.Add(1)
	return s.Store.GetOrder(ctx, id)
}

func (s *spy) UpdateOrder(ctx context.Context, id int64, fn func(*order.Order) error) error {
	if s.duringUpdate != nil {
		s.duringUpdate()
	}
	return s.Store.UpdateOrder(ctx, id, fn)
}

const (
	ttl    = time.Hour
	jitter = 10 * time.Minute
)

func setup(t *testing.T) (*ordercache.Cache, *spy, *redis.Client, infra.RedisEndpoint) {
	t.Helper()
	ep := infra.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: ep.Addr, DB: ep.DB})
	t.Cleanup(func() { rdb.Close() })
	repo := &spy{Store: memstore.New()}
	return ordercache.New(repo, rdb, ordercache.Options{Prefix: ep.Prefix, TTL: ttl, Jitter: jitter}), repo, rdb, ep
}

// placeOrders stores n pending orders in repo and returns their ids.
func placeOrders(t *testing.T, repo *spy, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	u, err := repo.CreateUser(ctx, user.User{Name: "ada", Email: "ada@example.com"})
	require.NoError(t, err)
	p, err := repo.CreateProduct(ctx, product.Product{Name: "pen", PriceCents: 100, Stock: n})
	require.NoError(t, err)
	var ids []int64
	for range n {
		o, err := order.New(u.ID, []order.Line{{ProductID: p.ID, Quantity: 1, PriceCents: 100}})
		require.NoError(t, err, "order.New")
		stored, _, err := repo.CreateOrder(ctx, o, "")
		require.NoError(t, err, "CreateOrder")
		ids = append(ids, stored.ID())
	}
	return ids
}

func TestCacheReadsThrough(t *testing.T) {
	c, repo, rdb, ep := setup(t)
	ids := placeOrders(t, repo, 2)
	id := ids[0]
	ctx := context.Background()

	first, err := c.GetOrder(ctx, id)
	require.NoError(t, err, "GetOrder(%d) on a cold cache", id)
	second, err := c.GetOrder(ctx, id)
	require.NoError(t, err, "GetOrder(%d) on a warm cache", id)
	require.Equal(t, first.Snapshot(), second.Snapshot(), "GetOrder(%d) from the cache differs from the repository", id)
	require.Equal(t, int64(1), repo.gets.Load(), "two GetOrder(%d) reached the repository %d times, want 1: the second must come from Redis", id, repo.gets.Load())

	keys, err := rdb.Keys(ctx, ep.Prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys, "no Redis key under the prefix %q after a read: every key must start with Options.Prefix", ep.Prefix)

	// Each order has its own entry: reading the second order, twice, returns the second order.
	for range 2 {
		other, err := c.GetOrder(ctx, ids[1])
		require.NoError(t, err, "GetOrder(%d)", ids[1])
		require.Equal(t, ids[1], other.ID(), "GetOrder(%d) after GetOrder(%d) returned order %d: one cache entry per order id", ids[1], id, other.ID())
	}
}

func TestCacheNoStaleReadAfterUpdate(t *testing.T) {
	c, repo, _, _ := setup(t)
	id := placeOrders(t, repo, 1)[0]
	ctx := context.Background()

	_, err := c.GetOrder(ctx, id) // fill the cache
	require.NoError(t, err)
	require.NoError(t, c.UpdateOrder(ctx, id, func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(cancel)")
	got, err := c.GetOrder(ctx, id)
	require.NoError(t, err)
	require.Equal(t, order.StatusCancelled, got.Status(), "GetOrder(%d) after UpdateOrder(cancel): status, want the new state (invalidate on write)", id)
}

func TestCacheInvalidatesAfterCommit(t *testing.T) {
	c, repo, _, _ := setup(t)
	id := placeOrders(t, repo, 1)[0]
	ctx := context.Background()

	_, err := c.GetOrder(ctx, id)
	require.NoError(t, err)
	// A reader arrives while the write is in flight: it misses (if the entry is already gone) and
	// reads the old, still committed order.
	repo.duringUpdate = func() {
		_, err := c.GetOrder(ctx, id)
		require.NoError(t, err)
	}
	require.NoError(t, c.UpdateOrder(ctx, id, func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(cancel)")
	repo.duringUpdate = nil

	got, err := c.GetOrder(ctx, id)
	require.NoError(t, err)
	require.Equal(t, order.StatusCancelled, got.Status(),
		"GetOrder(%d) after an update that raced a reader: status, want cancelled (delete the entry AFTER the write commits)", id)
}

// TestCacheDeletesOnWrite separates cache-aside from write-through: a write must drop the entry, not
// store the new value, because two writers that each set "their" value can finish in the other order
// and leave the older one cached until the TTL ends.
func TestCacheDeletesOnWrite(t *testing.T) {
	c, repo, rdb, ep := setup(t)
	id := placeOrders(t, repo, 1)[0]
	ctx := context.Background()

	_, err := c.GetOrder(ctx, id) // fill the cache
	require.NoError(t, err)
	require.NoError(t, c.UpdateOrder(ctx, id, func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(cancel)")
	keys, err := rdb.Keys(ctx, ep.Prefix+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "Redis keys after UpdateOrder(%d) = %v, want none: delete the entry on write (cache-aside), don't write the new value", id, keys)

	before := repo.gets.Load()
	_, err = c.GetOrder(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before+1, repo.gets.Load(), "GetOrder(%d) after a write did not reach the repository: the first read after a write must miss and refill", id)
}

// TestCacheUpdateKeepsOtherOrders: a write invalidates the entry of its own order and no other.
// Dropping every entry on each write (or a key that several orders share) empties the cache whenever
// anyone pays, and sends every reader to the database.
func TestCacheUpdateKeepsOtherOrders(t *testing.T) {
	c, repo, _, _ := setup(t)
	ids := placeOrders(t, repo, 2)
	ctx := context.Background()
	for _, id := range ids {
		_, err := c.GetOrder(ctx, id) // fill the cache
		require.NoError(t, err, "GetOrder(%d)", id)
	}
	require.NoError(t, c.UpdateOrder(ctx, ids[0], func(o *order.Order) error { return o.Cancel() }), "UpdateOrder(%d, cancel)", ids[0])

	before := repo.gets.Load()
	got, err := c.GetOrder(ctx, ids[1])
	require.NoError(t, err, "GetOrder(%d)", ids[1])
	require.Equal(t, order.StatusPending, got.Status(), "GetOrder(%d) after cancelling order %d: status", ids[1], ids[0])
	require.Equal(t, before, repo.gets.Load(),
		"GetOrder(%d) after UpdateOrder(%d) reached the repository: delete only the entry of the order that changed (c.key(id)), not every entry", ids[1], ids[0])
}

// TestCacheMissingOrder: a missing order is still domain.ErrNotFound through the cache (the transport
// answers 404 by errors.Is), and anything the cache remembers about a miss expires.
func TestCacheMissingOrder(t *testing.T) {
	c, repo, rdb, ep := setup(t)
	placeOrders(t, repo, 1)
	ctx := context.Background()
	const missing = 424242
	for range 2 {
		_, err := c.GetOrder(ctx, missing)
		require.ErrorIs(t, err, domain.ErrNotFound,
			"GetOrder(%d) of a missing order = %v, want an error wrapping domain.ErrNotFound: return the repository's error as it is (or wrap it with %%w)", missing, err)
	}
	keys, err := rdb.Keys(ctx, ep.Prefix+"*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		d, err := rdb.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Greater(t, d, time.Duration(0),
			"TTL of %s after reading a missing order = %v, want one: a remembered miss without a TTL keeps that order id missing for ever", k, d)
		require.LessOrEqual(t, d, ttl+jitter, "TTL of %s after reading a missing order = %v, want at most TTL + Jitter (%v)", k, d, ttl+jitter)
	}
}

func TestCacheTTLHasJitter(t *testing.T) {
	c, repo, rdb, ep := setup(t)
	ctx := context.Background()
	ids := placeOrders(t, repo, 20)
	for _, id := range ids {
		_, err := c.GetOrder(ctx, id)
		require.NoError(t, err)
	}
	keys, err := rdb.Keys(ctx, ep.Prefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, len(ids), "Redis keys under the prefix after reading %d orders", len(ids))

	lo, hi := time.Duration(1<<62), time.Duration(0)
	for _, k := range keys {
		d, err := rdb.PTTL(ctx, k).Result()
		require.NoError(t, err)
		// 30 s of slack for the time between SET and PTTL on a loaded machine (a real Redis counts down).
		require.Greater(t, d, ttl-30*time.Second, "TTL of %s = %v, want at least Options.TTL (%v): jitter adds to the TTL; a negative TTL means no expiry at all", k, d, ttl)
		require.LessOrEqual(t, d, ttl+jitter, "TTL of %s = %v, want at most TTL + Jitter (%v)", k, d, ttl+jitter)
		lo, hi = min(lo, d), max(hi, d)
	}
	require.Greater(t, hi-lo, 10*time.Second,
		"the TTLs of %d entries filled together span %v: add a random jitter so that they do not expire together", len(keys), hi-lo)
}

func TestCacheSurvivesRedisDown(t *testing.T) {
	repo := &spy{Store: memstore.New()}
	id := placeOrders(t, repo, 1)[0]
	// Nothing listens on port 1 of loopback: every Redis call fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	c := ordercache.New(repo, rdb, ordercache.Options{Prefix: "down:", TTL: ttl, Jitter: jitter})

	got, err := c.GetOrder(context.Background(), id)
	require.NoError(t, err, "GetOrder(%d) with Redis down: the cache is an optimisation, read the repository", id)
	require.Equal(t, id, got.ID(), "GetOrder(%d) with Redis down", id)

	// The write commits in the repository; the cache entry cannot be deleted. The update happened (a
	// payment was taken), so it must not be reported as failed: the client would pay again.
	err = c.UpdateOrder(context.Background(), id, func(o *order.Order) error { return o.Cancel() })
	require.NoError(t, err, "UpdateOrder(%d, cancel) with Redis down = %v, want nil: the repository committed, so the update succeeded; a cache entry that could not be deleted expires with its TTL", id, err)
	stored, err := repo.Store.GetOrder(context.Background(), id)
	require.NoError(t, err, "the repository's GetOrder(%d)", id)
	require.Equal(t, order.StatusCancelled, stored.Status(), "status in the repository after UpdateOrder(cancel) with Redis down")
}

// TestCacheTTLWithoutJitter: Jitter is optional. Zero means "no jitter", an exact TTL, and certainly
// no panic (math/rand/v2's N panics on a bound of 0).
func TestCacheTTLWithoutJitter(t *testing.T) {
	ep := infra.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: ep.Addr, DB: ep.DB})
	t.Cleanup(func() { rdb.Close() })
	repo := &spy{Store: memstore.New()}
	id := placeOrders(t, repo, 1)[0]
	c := ordercache.New(repo, rdb, ordercache.Options{Prefix: ep.Prefix, TTL: ttl})
	ctx := context.Background()

	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("GetOrder(%d) with Options.Jitter = 0 panicked: %v; a zero jitter is valid and means none", id, r)
			}
		}()
		_, err = c.GetOrder(ctx, id)
	}()
	require.NoError(t, err, "GetOrder(%d) with Options.Jitter = 0", id)
	keys, err := rdb.Keys(ctx, ep.Prefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1, "Redis keys under the prefix after one read with Options.Jitter = 0")
	d, err := rdb.PTTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	require.Greater(t, d, ttl-30*time.Second, "TTL of %s with Options.Jitter = 0 = %v, want Options.TTL (%v)", keys[0], d, ttl)
	require.LessOrEqual(t, d, ttl, "TTL of %s with Options.Jitter = 0 = %v, want Options.TTL (%v)", keys[0], d, ttl)
}
