package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenBucketLua is the token bucket of TokenBucket.Allow, run inside Redis so that read, refill and take are one
// atomic step for every instance (a GET and a SET from Go would let two instances spend the same token).
// KEYS[1] the bucket; ARGV rate (tokens/s), burst, now (ms), ttl (ms). Returns 1 if a token was taken.
var tokenBucketLua = redis.NewScript(`
local rate, burst, now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(v[1]), tonumber(v[2])
if tokens == nil then tokens, ts = burst, now end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) / 1000 * rate)
  ts = now
end
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], ttl)
return ok
`)

// Distributed is one token bucket (Rate per second, Burst) shared by Instances instances through Redis.
//
// When Redis cannot answer within Timeout, the instance does not fail open (no limit at all, just when the system
// is in trouble) nor closed (reject everything because a cache is down): it falls back to a local bucket with its
// share, Rate/Instances and Burst/Instances, so the instances together still allow about Rate.
type Distributed struct {
	Client    *redis.Client
	Key       string
	Rate      float64
	Burst     float64
	Instances int
	Timeout   time.Duration   // for one Redis call; 0 means 50ms
	OnError   func(err error) // told about every Redis failure (log it, count it); may be nil

	once  sync.Once
	local *TokenBucket
}

// Allow reports whether a request at now may pass.
func (d *Distributed) Allow(ctx context.Context, now time.Time) bool {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 50 * time.Millisecond
	}
	// A limiter that waits for a slow Redis makes every request slow: bound the call.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ttl := time.Duration(d.Burst/d.Rate*float64(time.Second)) + time.Second // a full bucket needs no key
	ok, err := tokenBucketLua.Run(ctx, d.Client, []string{d.Key},
		d.Rate, d.Burst, now.UnixMilli(), ttl.Milliseconds()).Int()
	if err == nil {
		return ok == 1
	}
	if d.OnError != nil {
		d.OnError(err)
	}
	d.once.Do(func() {
		n := float64(max(1, d.Instances))
		d.local = &TokenBucket{Rate: d.Rate / n, Burst: d.Burst / n}
	})
	return d.local.Allow(now)
}
