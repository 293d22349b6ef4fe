package user

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

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

// Get returns user id, from Redis when it is there, else from load, and then keeps it in Redis.
func (c *Cache) Get(ctx context.Context, id int64, load Load) (*userv1.User, error) {
	// TODO(11-cache): read c.Key(id) from Redis first, and answer from it. On a miss, load the user and store
	// it for TTL plus a random part of Jitter (雪崩: keys written together must not expire together), and store
	// "no such user" for MissTTL when load says ErrNoUser (穿透: an id that does not exist must not reach the
	// database on every request). Concurrent misses of one id share one load (击穿: c.group). A failed load is
	// not an answer: cache nothing. When Redis fails, tell c.OnError and serve from the database (降级).
	return load(ctx, id)
}
