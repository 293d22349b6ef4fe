package system

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/user"
	"github.com/gomicrolab/microlab/infra"
)

// The cache's settings in these tests: long enough that nothing expires by itself during a test, except the
// misses, which the tests wait out.
const (
	cacheTTL     = 10 * time.Minute
	cacheJitter  = 2 * time.Minute
	cacheMissTTL = 2 * time.Second
	// ttlSlack is how much of a key's life may pass between its SET and the test's PTTL: milliseconds, but 30 s
	// leaves room for a loaded machine and is still far below Jitter, so a TTL shortened by jitter shows.
	ttlSlack = 30 * time.Second
)

// cacheEnv is the user service with its Redis cache and the gateway, nothing else: GET /users/:id reads
// through the cache. The test writes the users table behind the service's back, which is how it can tell a
// cached answer from a fresh one.
type cacheEnv struct {
	gateway  string
	db       *sql.DB       // the user service's database
	rdb      *redis.Client // Redis itself, not through the proxy
	cache    *user.Cache
	proxy    *toxiproxy.Proxy // between the user service and Redis: Stop() is Redis going down
	inFlight atomic.Int64     // GetUser calls inside the user service
	redisErr atomic.Int64     // failures the cache reported to OnError
}

func startCache(t *testing.T) *cacheEnv {
	t.Helper()
	e := &cacheEnv{}
	consul := infra.Consul(t)
	ep := infra.Redis(t)
	dsn := infra.MySQL(t)

	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	e.proxy = toxiproxy.NewProxy(srv, "redis", "127.0.0.1:0", ep.Addr)
	require.NoError(t, e.proxy.Start())
	t.Cleanup(e.proxy.Stop)
	// Short timeouts and no retries: with Redis gone, a read must fall back to the database at once.
	viaProxy := redis.NewClient(&redis.Options{Addr: e.proxy.Listen, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { viaProxy.Close() })
	e.rdb = redis.NewClient(&redis.Options{Addr: ep.Addr})
	t.Cleanup(func() { e.rdb.Close() })
	e.cache = &user.Cache{Redis: viaProxy, Prefix: ep.Prefix, TTL: cacheTTL, Jitter: cacheJitter, MissTTL: cacheMissTTL,
		OnError: func(error) { e.redisErr.Add(1) }}

	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, ok := req.(*userv1.GetUserRequest); ok {
			e.inFlight.Add(1)
			defer e.inFlight.Add(-1)
		}
		return handler(ctx, req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sys, err := Start(ctx, Config{UserDSN: dsn, ConsulAddr: consul.Addr, Prefix: consul.Prefix, GatewayAddr: "127.0.0.1:0",
		Parts: []string{UserService, Gateway}, UserCache: e.cache,
		UserOptions: []grpc.ServerOption{grpc.ChainUnaryInterceptor(count)}})
	require.NoError(t, err, "system.Start (user service and gateway)")
	t.Cleanup(func() { require.NoError(t, sys.Stop(), "system.Stop") })
	e.gateway = sys.GatewayURL
	e.db, err = sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { e.db.Close() })
	return e
}

type userOut struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// insert writes a user straight into the table, where the cache cannot see it happen.
func (e *cacheEnv) insert(t *testing.T, name string) userOut {
	t.Helper()
	u := userOut{Name: name, Email: fmt.Sprintf("%s-%d@example.com", name, time.Now().UnixNano())}
	res, err := e.db.Exec("INSERT INTO users (name, email) VALUES (?, ?)", u.Name, u.Email)
	require.NoError(t, err)
	u.ID, err = res.LastInsertId()
	require.NoError(t, err)
	return u
}

// pttl is how long user id's key has to live; Redis answers -2 for no key and -1 for a key that never expires.
func (e *cacheEnv) pttl(t *testing.T, id int64) time.Duration {
	t.Helper()
	ttl, err := e.rdb.PTTL(context.Background(), e.cache.Key(id)).Result()
	require.NoError(t, err, "PTTL %s", e.cache.Key(id))
	switch ttl {
	case -2 * time.Nanosecond:
		t.Logf("PTTL %s: no such key", e.cache.Key(id))
	case -1 * time.Nanosecond:
		t.Logf("PTTL %s: the key never expires", e.cache.Key(id))
	}
	return ttl
}

// lockUsers locks the users table until unlock (or the end of the test): every read of it waits inside MySQL,
// where waiting counts them.
func (e *cacheEnv) lockUsers(t *testing.T) (waiting func() int, unlock func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	lock, err := e.db.Conn(ctx)
	require.NoError(t, err)
	_, err = lock.ExecContext(ctx, "LOCK TABLES users WRITE")
	require.NoError(t, err)
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, _ = lock.ExecContext(context.Background(), "UNLOCK TABLES")
			lock.Close()
		})
	}
	t.Cleanup(unlock)
	waiting = func() int {
		var n int
		require.NoError(t, e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST
			WHERE DB = DATABASE() AND INFO LIKE '%FROM users%' AND ID <> CONNECTION_ID()`).Scan(&n))
		return n
	}
	return waiting, unlock
}

// get is GET /users/:id through the gateway.
func (e *cacheEnv) get(t *testing.T, id int64) (int, userOut) {
	t.Helper()
	resp, err := client.Get(fmt.Sprintf("%s/users/%d", e.gateway, id))
	require.NoError(t, err, "GET /users/%d", id)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var u userOut
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(raw, &u), "GET /users/%d: body %s", id, raw)
	}
	return resp.StatusCode, u
}

// TestCacheHit: the second read of a user is answered from Redis, whole, without the database. The test
// changes the row behind the service's back: a fresh read would show the change, a cached one does not.
func TestCacheHit(t *testing.T) {
	e := startCache(t)
	ada := e.insert(t, "ada")
	code, got := e.get(t, ada.ID)
	require.Equal(t, http.StatusOK, code, "GET /users/%d of a user in the table: status", ada.ID)
	require.Equal(t, ada, got, "GET /users/%d (first read, from the database)", ada.ID)

	_, err := e.db.Exec("UPDATE users SET name = 'changed behind the cache', email = 'changed@example.com' WHERE id = ?", ada.ID)
	require.NoError(t, err)
	code, got = e.get(t, ada.ID)
	require.Equal(t, http.StatusOK, code, "GET /users/%d again: status", ada.ID)
	require.Equal(t, ada, got,
		"GET /users/%d the second time = %+v, want the user as first read %+v, every field: answer from Redis (cache-aside: read the cache first, fill it on a miss)", ada.ID, got, ada)

	ttl := e.pttl(t, ada.ID)
	require.True(t, ttl > cacheTTL-ttlSlack && ttl <= cacheTTL+cacheJitter,
		"PTTL %s = %v, want TTL %v plus up to Jitter %v: a cached user expires, so a change reaches readers in bounded time, and not before TTL, the least it stays cached", e.cache.Key(ada.ID), ttl, cacheTTL, cacheJitter)
}

// TestCacheJitter: users cached together get different lifetimes, so they do not all expire in one instant
// and send every read to the database at once (cache avalanche, 雪崩).
func TestCacheJitter(t *testing.T) {
	e := startCache(t)
	var ttls []time.Duration
	for i := range 30 {
		u := e.insert(t, fmt.Sprintf("u%d", i))
		code, _ := e.get(t, u.ID)
		require.Equal(t, http.StatusOK, code, "GET /users/%d: status", u.ID)
		ttl := e.pttl(t, u.ID)
		require.True(t, ttl > cacheTTL-ttlSlack && ttl <= cacheTTL+cacheJitter,
			"PTTL %s = %v, want TTL %v plus a random part of Jitter %v: the jitter is added to TTL, never taken from it (TTL is the least a user stays cached)", e.cache.Key(u.ID), ttl, cacheTTL, cacheJitter)
		ttls = append(ttls, ttl)
	}
	lo, hi := ttls[0], ttls[0]
	for _, d := range ttls {
		lo, hi = min(lo, d), max(hi, d)
	}
	// 30 draws spread over Jitter (2 min) land within 30 s of each other with a chance of about 30 × (1/4)^29.
	require.Greater(t, hi-lo, cacheJitter/4,
		"the TTLs of 30 users cached within a second span %v (from %v to %v), want them spread over Jitter %v: with one TTL for all they expire together (雪崩)", hi-lo, lo, hi, cacheJitter)
}

// TestCacheMiss: an id no user has is answered 404 and remembered for MissTTL, so a client asking for it
// again and again does not reach the database each time (cache penetration, 穿透); after MissTTL it is asked again.
func TestCacheMiss(t *testing.T) {
	e := startCache(t)
	var id int64
	require.NoError(t, e.db.QueryRow("SELECT COALESCE(MAX(id), 0) + 1000 FROM users").Scan(&id))
	code, _ := e.get(t, id)
	require.Equal(t, http.StatusNotFound, code, "GET /users/%d of no user: status", id)

	_, err := e.db.Exec("INSERT INTO users (id, name, email) VALUES (?, 'late', ?)", id, fmt.Sprintf("late-%d@example.com", id))
	require.NoError(t, err)
	code, _ = e.get(t, id)
	require.Equal(t, http.StatusNotFound, code,
		"GET /users/%d right after a 404 = %d, want 404 from the cache: remember \"no such user\" for MissTTL, or every request for a missing id goes to the database (穿透)", id, code)
	ttl := e.pttl(t, id)
	require.True(t, ttl > 0 && ttl <= cacheMissTTL,
		"PTTL %s (a miss) = %v, want at most MissTTL %v: a user created later must show up soon, not after the found-user TTL", e.cache.Key(id), ttl, cacheMissTTL)

	// MissTTL is 2s: 10s is plenty for it to lapse, on any machine.
	require.Eventually(t, func() bool { c, _ := e.get(t, id); return c == http.StatusOK }, 10*time.Second, 100*time.Millisecond,
		"GET /users/%d stayed 404 after MissTTL %v, though the user now exists", id, cacheMissTTL)
}

// TestCacheFailedLoadIsNotCached: when the database cannot answer, the read fails, and nothing is cached:
// once the database is back, the user is there. A failed load cached as "no such user" turns a blip into a 404.
func TestCacheFailedLoadIsNotCached(t *testing.T) {
	e := startCache(t)
	ada := e.insert(t, "ada")
	_, err := e.db.Exec("RENAME TABLE users TO users_away")
	require.NoError(t, err)
	renamed := true
	t.Cleanup(func() {
		if renamed {
			_, _ = e.db.Exec("RENAME TABLE users_away TO users")
		}
	})
	code, _ := e.get(t, ada.ID)
	require.GreaterOrEqual(t, code, 500, "GET /users/%d while the users table is gone = %d, want a 5xx: the service could not tell whether the user exists", ada.ID, code)
	_, err = e.db.Exec("RENAME TABLE users_away TO users")
	require.NoError(t, err)
	renamed = false

	code, got := e.get(t, ada.ID)
	require.Equal(t, http.StatusOK, code, "GET /users/%d once the table is back = %d, want 200: a failed load must not be cached (not as a miss, not as a user)", ada.ID, code)
	require.Equal(t, ada, got, "GET /users/%d once the table is back", ada.ID)
}

// TestCacheOneLoadPerKey: many requests that miss one key at once cause one database read, not one each (cache
// breakdown, 击穿); two keys get a read each, and every request gets its own user. The test locks the users
// table, so every read waits inside MySQL, where the test counts them.
func TestCacheOneLoadPerKey(t *testing.T) {
	e := startCache(t)
	a, b := e.insert(t, "ada"), e.insert(t, "bob")

	waiting, unlock := e.lockUsers(t)

	const perUser = 10
	type answer struct {
		want userOut
		code int
		got  userOut
		err  error
	}
	answers := make(chan answer, 2*perUser)
	var wg sync.WaitGroup
	for _, u := range []userOut{a, b} {
		for range perUser {
			wg.Go(func() {
				resp, err := client.Get(fmt.Sprintf("%s/users/%d", e.gateway, u.ID))
				ans := answer{want: u, err: err}
				if err == nil {
					ans.code = resp.StatusCode
					ans.err = json.NewDecoder(resp.Body).Decode(&ans.got)
					resp.Body.Close()
				}
				answers <- ans
			})
		}
	}
	// Every request is inside the user service...
	require.Eventually(t, func() bool { return e.inFlight.Load() == 2*perUser }, 20*time.Second, 10*time.Millisecond,
		"%d GetUser calls reached the user service, want %d", e.inFlight.Load(), 2*perUser)
	// ...and the reads they caused wait on the lock. Requests that each read for themselves all reach MySQL
	// within milliseconds; a second is far longer, so more than one read per user shows up here.
	require.Eventually(t, func() bool { return waiting() >= 2 }, 20*time.Second, 10*time.Millisecond,
		"no read of the users table is waiting on the lock: the requests never reached the database")
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		n := waiting()
		require.LessOrEqual(t, n, 2,
			"%d reads of the users table at once for %d requests of 2 users, want one per user: misses of one key must share one load (singleflight), or a hot key that expires sends every request to the database (击穿)", n, 2*perUser)
		time.Sleep(20 * time.Millisecond)
	}
	unlock()
	wg.Wait()
	close(answers)
	for ans := range answers {
		require.NoError(t, ans.err, "GET /users/%d", ans.want.ID)
		require.Equal(t, http.StatusOK, ans.code, "GET /users/%d: status", ans.want.ID)
		require.Equal(t, ans.want, ans.got, "GET /users/%d: a request that waited on a shared load must get its own user", ans.want.ID)
	}
}

// TestCacheLoadOutlivesCaller: the shared load answers every request waiting on it, so the request that started
// it hanging up must not cancel it for the others. The test locks the users table so the load waits in MySQL,
// lets more requests for the same user join it, cancels the first, and then lets the load finish.
func TestCacheLoadOutlivesCaller(t *testing.T) {
	e := startCache(t)
	ada := e.insert(t, "ada")
	waiting, unlock := e.lockUsers(t)

	first, hangUp := context.WithCancel(context.Background())
	defer hangUp()
	req, err := http.NewRequestWithContext(first, http.MethodGet, fmt.Sprintf("%s/users/%d", e.gateway, ada.ID), nil)
	require.NoError(t, err)
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	require.Eventually(t, func() bool { return e.inFlight.Load() == 1 && waiting() == 1 }, 20*time.Second, 10*time.Millisecond,
		"the first GET /users/%d never reached the users table (%d GetUser calls in the user service)", ada.ID, e.inFlight.Load())

	const others = 3
	type answer struct {
		code int
		got  userOut
		err  error
	}
	answers := make(chan answer, others)
	for range others {
		go func() {
			var ans answer
			resp, err := client.Get(fmt.Sprintf("%s/users/%d", e.gateway, ada.ID))
			if ans.err = err; err == nil {
				ans.code = resp.StatusCode
				if ans.code == http.StatusOK {
					ans.err = json.NewDecoder(resp.Body).Decode(&ans.got)
				}
				resp.Body.Close()
			}
			answers <- ans
		}()
	}
	require.Eventually(t, func() bool { return e.inFlight.Load() == 1+others }, 20*time.Second, 10*time.Millisecond,
		"%d GetUser calls reached the user service, want %d", e.inFlight.Load(), 1+others)
	// From inside the service to waiting on the load is one Redis GET: a millisecond; 300 ms is plenty.
	time.Sleep(300 * time.Millisecond)

	hangUp()
	<-firstDone
	// A load cancelled with the first request fails every waiter at once, the table still locked: give that
	// up to 2 s to show (it takes milliseconds). A load that outlives its caller keeps all of them waiting.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && e.inFlight.Load() == 1+others; {
		time.Sleep(10 * time.Millisecond)
	}
	unlock()
	for range others {
		ans := <-answers
		require.NoError(t, ans.err, "GET /users/%d", ada.ID)
		require.Equal(t, http.StatusOK, ans.code,
			"GET /users/%d, waiting on the load a request that hung up had started = %d, want 200: the shared load answers every waiter, so it must not run on the first caller's ctx (context.WithoutCancel)", ada.ID, ans.code)
		require.Equal(t, ada, ans.got, "GET /users/%d", ada.ID)
	}
}

// TestCacheRedisDown: with Redis unreachable the service still answers, from the database (降级), and says
// so through OnError; the cache is an optimisation, not a dependency that can take reads down.
func TestCacheRedisDown(t *testing.T) {
	e := startCache(t)
	ada := e.insert(t, "ada")
	e.proxy.Stop() // closes its port and every connection through it: Redis is gone

	start := time.Now()
	code, got := e.get(t, ada.ID)
	require.Equal(t, http.StatusOK, code, "GET /users/%d with Redis down = %d, want 200 from the database: a cache failure must not fail the read", ada.ID, code)
	require.Equal(t, ada, got, "GET /users/%d with Redis down", ada.ID)
	// Redis' client here gives up after 300ms per command (a GET, then a SET); 5s leaves room for a loaded machine.
	require.Less(t, time.Since(start), 5*time.Second, "GET /users/%d with Redis down took %v", ada.ID, time.Since(start))
	require.Positive(t, e.redisErr.Load(), "OnError was not told that Redis failed: an outage nobody is told about is found by the database's load graph")
}
