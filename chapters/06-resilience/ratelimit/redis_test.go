package ratelimit_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/06-resilience/internal/fault"
	"github.com/gomicrolab/microlab/chapters/06-resilience/ratelimit"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // the refused dials while Redis is down are expected
	os.Exit(infra.Main(m))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// instances returns two instances sharing one limit (Rate 1/s, Burst 10) through a Redis that the test can cut off
// (a fault proxy in front of it: the clients see a real refused connection) or slow down.
func instances(t *testing.T) (a, b *ratelimit.Distributed, proxy *fault.Proxy) {
	t.Helper()
	r := infra.Redis(t)
	proxy, err := fault.New(r.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	key := r.Prefix + "orders"
	mk := func() *ratelimit.Distributed {
		c := redis.NewClient(&redis.Options{Addr: proxy.Addr(), DB: r.DB, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1,
			ContextTimeoutEnabled: true}) // honour the ctx deadline Allow sets (go-redis ignores it by default)
		t.Cleanup(func() { _ = c.Close() })
		// Timeout 1s: generous, so that a loaded test machine never falls back while Redis is up.
		return &ratelimit.Distributed{Client: c, Key: key, Rate: 1, Burst: 10, Instances: 2, Timeout: time.Second}
	}
	return mk(), mk(), proxy
}

func allowD(t *testing.T, d *ratelimit.Distributed, now time.Time, n int) int {
	t.Helper()
	ok := 0
	for range n {
		start := time.Now()
		if d.Allow(context.Background(), now) {
			ok++
		}
		took := time.Since(start)
		require.Less(t, took, 3*time.Second, "Allow took %v, want < 3s (Timeout is 1s): a limiter must never make a request wait for a broken Redis", took)
	}
	return ok
}

func TestRedisLimitShared(t *testing.T) {
	a, b, _ := instances(t)
	gotA := allowD(t, a, t0, 8)
	gotB := allowD(t, b, t0, 8)
	require.Equal(t, 8, gotA, "instance A: 8 requests on a fresh shared bucket (burst 10), want 8 allowed")
	require.Equal(t, 2, gotB, "instance B: 8 requests after A took 8 of the shared 10, allowed = %d, want 2: both instances spend one bucket in Redis", gotB)
	require.Equal(t, 1, allowD(t, b, at(time.Second), 3), "one second later (rate 1/s), want 1 more allowed: the refill is computed from the time passed in")
	require.Equal(t, 0, allowD(t, a, at(time.Second), 3), "instance A at the same second: the token B took is gone")
	require.Equal(t, 10, allowD(t, a, at(time.Hour), 30), "after an hour idle, want 10 allowed: the bucket holds at most Burst")
}

func TestRedisLimitExpires(t *testing.T) {
	a, _, _ := instances(t)
	allowD(t, a, t0, 1)
	ttl, err := a.Client.PTTL(context.Background(), a.Key).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0), "PTTL(%s) = %v, want a TTL: a limiter key for every user or route must not stay in Redis for ever", a.Key, ttl)
	require.LessOrEqual(t, ttl, time.Minute, "PTTL(%s) = %v, want about the time to refill the bucket (10s) plus a margin", a.Key, ttl)

	// Rate 0.5/s, Burst 10: an empty bucket needs 20s to fill again. Until then its key is the only record of the
	// spent tokens, so it must live at least that long, or the bucket comes back full too soon.
	slow := &ratelimit.Distributed{Client: a.Client, Key: a.Key + ":slow", Rate: 0.5, Burst: 10, Instances: 2, Timeout: time.Second}
	start := time.Now()
	require.Equal(t, 10, allowD(t, slow, t0, 11), "Rate 0.5/s, Burst 10: 11 requests at once, want 10 allowed")
	ttl, err = a.Client.PTTL(context.Background(), slow.Key).Result()
	require.NoError(t, err)
	// ttl counts down from the last Allow; adding the time since the first one gives at least the TTL that was set.
	set := ttl + time.Since(start)
	require.GreaterOrEqual(t, set, 20*time.Second, "Rate 0.5/s, Burst 10: the key's TTL after draining the bucket = %v, want >= 20s (Burst/Rate, the time to fill it again): a key that expires earlier forgets the spent tokens and lets a full burst through too soon", set)
	require.LessOrEqual(t, ttl, 20*time.Second+time.Minute, "Rate 0.5/s, Burst 10: PTTL = %v, want about 20s (Burst/Rate) plus a margin", ttl)
}

// deadlines records the deadline of every command's context (the zero time for none).
type deadlines struct {
	mu  sync.Mutex
	all []time.Time
}

func (h *deadlines) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *deadlines) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		d, _ := ctx.Deadline()
		h.mu.Lock()
		h.all = append(h.all, d)
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *deadlines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestRedisLimitTimeout(t *testing.T) {
	for _, tc := range []struct {
		name          string
		timeout, want time.Duration
	}{
		{"Timeout 0 means 50ms", 0, 50 * time.Millisecond},
		{"Timeout 300ms", 300 * time.Millisecond, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _ := instances(t)
			a.Timeout = tc.timeout
			h := &deadlines{}
			a.Client.AddHook(h)
			before := time.Now()
			a.Allow(context.Background(), t0) // allowed or not: only the Redis call's deadline matters here
			after := time.Now()
			h.mu.Lock()
			defer h.mu.Unlock()
			require.NotEmpty(t, h.all, "Allow(Timeout %v) sent no command to Redis", tc.timeout)
			for _, d := range h.all {
				require.False(t, d.IsZero(), "Allow(Timeout %v): the Redis call has no deadline, want now+%v: a limiter that waits for a slow Redis makes every request slow", tc.timeout, tc.want)
				require.WithinRange(t, d, before.Add(tc.want), after.Add(tc.want),
					"Allow(Timeout %v): the Redis call's deadline is now+%v, want now+%v: Timeout bounds each Redis call, and 0 means the documented 50ms",
					tc.timeout, d.Sub(before).Round(time.Millisecond), tc.want)
			}
		})
	}
}

func TestRedisLimitDown(t *testing.T) {
	a, b, proxy := instances(t)
	require.Equal(t, 10, allowD(t, a, t0, 10)+allowD(t, b, t0, 10), "Redis up: the two instances share 10")

	proxy.Down() // Redis unreachable: connections refused
	gotA := allowD(t, a, at(time.Hour), 20)
	gotB := allowD(t, b, at(time.Hour), 20)
	require.NotZero(t, gotA+gotB, "Redis down: allowed 0 of 40, want 10: failing closed turns a cache outage into a full outage")
	require.Equal(t, 5, gotA, "Redis down: instance A allowed %d of 20, want 5: its share of the burst (10 / 2 instances); more is failing open", gotA)
	require.Equal(t, 5, gotB, "Redis down: instance B allowed %d of 20, want 5: its share of the burst (10 / 2 instances)", gotB)
	require.Equal(t, 1, allowD(t, a, at(time.Hour+2*time.Second), 5), "Redis down, 2s later: instance A refills at its share of the rate (0.5/s), want 1")

	require.NoError(t, proxy.Up())
	require.Eventually(t, func() bool { return a.Client.Ping(context.Background()).Err() == nil }, 5*time.Second, 10*time.Millisecond, "Redis reachable again")
	got := allowD(t, a, at(2*time.Hour), 30)
	require.Equal(t, 10, got, "Redis back: instance A alone allowed %d, want 10: once Redis answers, the shared bucket rules again", got)
	require.Equal(t, 0, allowD(t, b, at(2*time.Hour), 5), "Redis back: instance B finds the shared bucket empty")
}

func TestRedisLimitSlow(t *testing.T) {
	a, _, proxy := instances(t)
	require.Equal(t, 1, allowD(t, a, t0, 1), "Redis up")
	require.NoError(t, proxy.SetLatency(10*time.Second))
	start := time.Now()
	ok := a.Allow(context.Background(), at(time.Hour))
	took := time.Since(start)
	require.Less(t, took, 3*time.Second, "Redis answering after 10s: Allow took %v, want about Timeout (1s): bound the Redis call and fall back", took)
	require.True(t, ok, "Redis slow: Allow = false, want the local share to decide (it has tokens)")
}
