package user

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
	"google.golang.org/protobuf/proto"

	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
)

// ErrNoUser is what a Load answers for an id that no user has.
var ErrNoUser = errors.New("no such user")

// Load reads one user from the database: ErrNoUser if there is none, another error if it could not tell.
type Load func(ctx context.Context, id int64) (*userv1.User, error)

// Cache is a cache-aside (旁路缓存) read of users by id, in Redis, in front of the users table. A user's key
// is Key(id); its value is whatever Get chooses to store.
type Cache struct {
	Redis   *redis.Client
	Prefix  string        // prepended to every key
	TTL     time.Duration // how long a found user stays cached, at least
	Jitter  time.Duration // plus a random part of this, different for each key
	MissTTL time.Duration // how long "no such user" stays cached
	OnError func(error)   // told every Redis failure (may be nil)

	group singleflight.Group
}

// Key is the Redis key of user id.
func (c *Cache) Key(id int64) string { return c.Prefix + "user:" + strconv.FormatInt(id, 10) }

// loadTimeout bounds one shared load: it runs for every caller waiting on it, so not on any one caller's ctx.
const loadTimeout = 5 * time.Second

// Get returns user id, from Redis when it is there, else from load, and then keeps it in Redis.
func (c *Cache) Get(ctx context.Context, id int64, load Load) (*userv1.User, error) {
	key := c.Key(id)
	b, err := c.Redis.Get(ctx, key).Bytes()
	switch {
	case err == nil && len(b) == 0: // the empty value is "no such user": a cached miss
		return nil, ErrNoUser
	case err == nil:
		u := &userv1.User{}
		if err := proto.Unmarshal(b, u); err == nil {
			return u, nil
		}
		c.failed(fmt.Errorf("decode %s: %w", key, err)) // unreadable: load it again and overwrite
	case !errors.Is(err, redis.Nil):
		// Redis is down or slow: the database can still answer, so degrade (降级) instead of failing.
		c.failed(fmt.Errorf("redis GET %s: %w", key, err))
	}

	// 击穿: a hot key that expires sends every request to the database at once; one load per key instead.
	v, err, _ := c.group.Do(key, func() (any, error) {
		// Detached from the first caller: if it gives up, the others still get the answer.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		u, err := load(lctx, id)
		switch {
		case errors.Is(err, ErrNoUser):
			// 穿透: remember the miss, briefly (the user may be created soon).
			c.set(lctx, key, nil, c.MissTTL)
			return nil, err
		case err != nil:
			return nil, err // not an answer: caching it would turn a blip of the database into a 404
		}
		b, err := proto.Marshal(u)
		if err != nil {
			return nil, fmt.Errorf("encode user %d: %w", id, err)
		}
		ttl := c.TTL
		if c.Jitter > 0 { // 雪崩: users cached together must not all expire in the same second
			ttl += rand.N(c.Jitter)
		}
		c.set(lctx, key, b, ttl)
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	// Every waiter got the same message: each gets its own copy to marshal or change.
	return proto.Clone(v.(*userv1.User)).(*userv1.User), nil
}

func (c *Cache) set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if err := c.Redis.Set(ctx, key, value, ttl).Err(); err != nil {
		c.failed(fmt.Errorf("redis SET %s: %w", key, err)) // the answer is right; only the next read pays
	}
}

func (c *Cache) failed(err error) {
	if c.OnError != nil {
		c.OnError(err)
	}
}
