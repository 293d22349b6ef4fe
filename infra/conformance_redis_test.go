package infra

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var redisCases = []conformanceCase{
	{"set_nx_px", redisSetNXPX},
	{"eval", redisEval},
	{"expiry_real_time", redisExpiry},
	{"watch_multi", redisWatchMulti},
}

func openRedis(t *testing.T, inst *Instance) (*redis.Client, string) {
	t.Helper()
	ep := redisNamespace(t, inst)
	c := redis.NewClient(&redis.Options{Addr: ep.Addr, DB: ep.DB})
	t.Cleanup(func() { c.Close() })
	return c, ep.Prefix
}

func redisSetNXPX(t *testing.T, inst *Instance) {
	c, prefix := openRedis(t, inst)
	ctx := context.Background()
	key := prefix + "lock"
	ok, err := c.SetNX(ctx, key, "owner-1", 5*time.Second).Result()
	if err != nil || !ok {
		t.Fatalf("first SET NX PX = %v, %v; want true, nil", ok, err)
	}
	ok, err = c.SetNX(ctx, key, "owner-2", 5*time.Second).Result()
	if err != nil || ok {
		t.Fatalf("second SET NX PX = %v, %v; want false, nil", ok, err)
	}
	if got, _ := c.Get(ctx, key).Result(); got != "owner-1" {
		t.Errorf("GET after the refused SET NX = %q, want %q", got, "owner-1")
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > 5*time.Second {
		t.Errorf("PTTL = %v, %v; want in (0, 5s]", ttl, err)
	}
}

// compareAndDelete releases a lock only for its owner: the classic Lua script.
var compareAndDelete = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

func redisEval(t *testing.T, inst *Instance) {
	c, prefix := openRedis(t, inst)
	ctx := context.Background()
	key := prefix + "lock"
	if err := c.Set(ctx, key, "owner-1", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if n, err := compareAndDelete.Run(ctx, c, []string{key}, "owner-2").Int(); err != nil || n != 0 {
		t.Fatalf("EVAL by another owner = %d, %v; want 0, nil", n, err)
	}
	if n, err := compareAndDelete.Run(ctx, c, []string{key}, "owner-1").Int(); err != nil || n != 1 {
		t.Fatalf("EVAL by the owner = %d, %v; want 1, nil", n, err)
	}
	if err := c.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET after the owner's EVAL: err = %v, want redis.Nil", err)
	}
}

func redisExpiry(t *testing.T, inst *Instance) {
	c, prefix := openRedis(t, inst)
	ctx := context.Background()
	key := prefix + "session"
	if err := c.Set(ctx, key, "v", 200*time.Millisecond).Err(); err != nil {
		t.Fatalf("SET PX 200: %v", err)
	}
	if err := c.Get(ctx, key).Err(); err != nil {
		t.Fatalf("GET right after SET: %v", err)
	}
	time.Sleep(250 * time.Millisecond)
	eventually(t, 2*time.Second, "key with PX 200 expires in real time", func() error {
		if err := c.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
			return errors.New("GET still finds the key")
		}
		return nil
	})
}

func redisWatchMulti(t *testing.T, inst *Instance) {
	c, prefix := openRedis(t, inst)
	other, _ := openRedis(t, inst)
	ctx := context.Background()
	key := prefix + "stock"
	if err := c.Set(ctx, key, 10, 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	decrement := func(interfere bool) error {
		return c.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Get(ctx, key).Int()
			if err != nil {
				return err
			}
			if interfere {
				if err := other.Set(ctx, key, 99, 0).Err(); err != nil {
					return err
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, n-1, 0)
				return nil
			})
			return err
		}, key)
	}
	if err := decrement(false); err != nil {
		t.Fatalf("WATCH/MULTI without interference: %v", err)
	}
	if err := decrement(true); !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("WATCH/MULTI after another client wrote the key: err = %v, want redis.TxFailedErr", err)
	}
	if got, _ := c.Get(ctx, key).Int(); got != 99 {
		t.Errorf("value after the aborted transaction = %d, want 99 (the other client's write)", got)
	}
}
