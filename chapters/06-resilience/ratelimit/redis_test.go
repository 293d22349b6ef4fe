package ratelimit_test

import (
	"context"
	"os"
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
