package etcdreg_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/gomicrolab/microlab/chapters/05-discovery/etcdreg"
	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(infra.Main(m))
}

// newClient connects to etcd; it is closed at cleanup.
func newClient(t *testing.T, ep infra.EtcdEndpoint) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: ep.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err, "connect to etcd at %v", ep.Endpoints)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// serve runs a whoami server answering id on a free loopback port until cleanup.
func serve(t *testing.T, id string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := whoami.NewServer(id)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// registered is one Register running in the background.
type registered struct {
	cancel context.CancelFunc
	done   <-chan struct{}
}

func register(t *testing.T, cfg etcdreg.Config) *registered {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, err := etcdreg.Register(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("Register(%s) = %v, want nil", cfg.Key(), err)
	}
	r := &registered{cancel: cancel, done: done}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Register's context and waits for its channel to close.
func (r *registered) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	waitClosed(t, r.done, "Register's channel", "it must close once ctx is done and the lease is revoked")
}

func waitClosed(t *testing.T, done <-chan struct{}, what, why string) {
	t.Helper()
	if done == nil {
		t.Fatalf("%s is nil: %s", what, why)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still open 10s after cancel: %s (a goroutine leaks)", what, why)
	}
}

// leaseOf returns the lease of key, and whether key exists.
func leaseOf(t *testing.T, cli *clientv3.Client, key string) (clientv3.LeaseID, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	require.NoError(t, err, "Get(%s)", key)
	if len(resp.Kvs) == 0 {
		return 0, false
	}
	return clientv3.LeaseID(resp.Kvs[0].Lease), true
}

func config(cli *clientv3.Client, service, addr string, ttl time.Duration) etcdreg.Config {
	return etcdreg.Config{Client: cli, Service: service, Addr: addr, TTL: ttl, RetryAfter: 50 * time.Millisecond}
}

// TestEtcdRegisterPutsEndpointUnderLease reads what Register wrote: the endpoint under <Service>/<Addr>, in
// the format of etcd's endpoints package (which the resolver reads), attached to a lease of exactly cfg.TTL.
func TestEtcdRegisterPutsEndpointUnderLease(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	addr := serve(t, "a")
	cfg := config(cli, ep.Prefix+"services/whoami", addr, 3*time.Second)
	register(t, cfg)

	ctx := t.Context()
	resp, err := cli.Get(ctx, cfg.Key())
	require.NoError(t, err)
	if len(resp.Kvs) != 1 {
		t.Fatalf("Get(%s) after Register = %d keys, want 1: Register must return once the instance is registered", cfg.Key(), len(resp.Kvs))
	}
	kv := resp.Kvs[0]
	if want := `"Addr":"` + addr + `"`; !strings.Contains(string(kv.Value), want) {
		t.Errorf("value of %s = %s, want the JSON of endpoints.Endpoint{Addr: %q}: the etcd resolver reads that format", cfg.Key(), kv.Value, addr)
	}
	if kv.Lease == 0 {
		t.Fatalf("%s has no lease, want one of TTL %v: without a lease a killed instance stays registered for ever", cfg.Key(), cfg.TTL)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease))
	require.NoError(t, err)
	if ttl.GrantedTTL != 3 {
		t.Errorf("lease of %s granted with TTL %ds, want 3s (cfg.TTL): the TTL is how long a killed instance keeps receiving calls", cfg.Key(), ttl.GrantedTTL)
	}
}

// who calls whoami n times through conn and counts the answers.
func who(t *testing.T, conn *grpc.ClientConn, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		id, err := whoami.Who(ctx, conn, grpc.WaitForReady(true))
		cancel()
		require.NoError(t, err, "call through Dial")
		seen[id]++
	}
	return seen
}

// waitSeen calls until every id in want answered, or fails after limit.
func waitSeen(t *testing.T, conn *grpc.ClientConn, limit time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		seen := who(t, conn, 10)
		missing := 0
		for _, id := range want {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls through Dial reached %v, want every one of %v within %v: both instances are registered, so round_robin must use both", seen, want, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEtcdDialSpreadsCallsOverInstances registers two instances and calls through Dial: both get calls, about
// evenly (round_robin), because the resolver turns the keys under the service into the address list.
func TestEtcdDialSpreadsCallsOverInstances(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	service := ep.Prefix + "services/whoami"
	register(t, config(cli, service, serve(t, "a"), 3*time.Second))
	register(t, config(cli, service, serve(t, "b"), 3*time.Second))

	conn, err := etcdreg.Dial(cli, service)
	require.NoError(t, err, "Dial(%s)", service)
	t.Cleanup(func() { conn.Close() })
	waitSeen(t, conn, 10*time.Second, "a", "b")
	seen := who(t, conn, 40)
	if seen["a"] < 15 || seen["b"] < 15 {
		t.Errorf("40 calls through Dial went %v, want about 20 each: round_robin spreads calls; pick_first (gRPC's default) sends all to one", seen)
	}
}

// TestEtcdStopLeavesAtOnce cancels Register's context: the instance must be gone from etcd when the channel
// closes, long before its 10s TTL, because a stopping instance should get no new calls.
func TestEtcdStopLeavesAtOnce(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	cfg := config(cli, ep.Prefix+"services/whoami", serve(t, "a"), 10*time.Second)
	r := register(t, cfg)
	lease, ok := leaseOf(t, cli, cfg.Key())
	require.True(t, ok, "%s registered", cfg.Key())

	r.stop(t)
	if _, ok := leaseOf(t, cli, cfg.Key()); ok {
		t.Fatalf("%s still registered after Register's channel closed, want it gone at once: revoke the lease when ctx is done "+
			"(with a context that is not the cancelled one), or clients keep calling a stopped instance for the whole TTL", cfg.Key())
	}
	ttl, err := cli.TimeToLive(t.Context(), lease)
	require.NoError(t, err)
	if ttl.TTL != -1 {
		t.Errorf("lease %x has %ds left after stop, want it revoked (TTL -1)", lease, ttl.TTL)
	}
}

// TestEtcdKeepAliveOutlivesTTL watches the instance's key for three TTLs: it must never be deleted while
// Register runs, because KeepAlive renews the lease.
func TestEtcdKeepAliveOutlivesTTL(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	cfg := config(cli, ep.Prefix+"services/whoami", serve(t, "a"), 2*time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 3*cfg.TTL)
	defer cancel()
	start, err := cli.Get(ctx, cfg.Key())
	require.NoError(t, err)
	register(t, cfg)
	lease, ok := leaseOf(t, cli, cfg.Key())
	require.True(t, ok, "%s registered", cfg.Key())

	for wr := range cli.Watch(ctx, cfg.Key(), clientv3.WithRev(start.Header.Revision+1)) {
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				t.Fatalf("%s deleted while Register runs (TTL %v), want it kept: keep the lease alive with KeepAlive", cfg.Key(), cfg.TTL)
			}
		}
	}
	if got, ok := leaseOf(t, cli, cfg.Key()); !ok || got != lease {
		t.Fatalf("after 3 TTLs %s has lease %x (present %v), want the same lease %x kept alive", cfg.Key(), got, ok, lease)
	}
}

// TestEtcdLostLeaseRegistersAgain revokes the instance's lease from outside, as an expiry during a network
// partition would: the healthy instance must register again under a new lease, or it stays invisible for ever.
func TestEtcdLostLeaseRegistersAgain(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	cfg := config(cli, ep.Prefix+"services/whoami", serve(t, "a"), 2*time.Second)
	register(t, cfg)
	lease, ok := leaseOf(t, cli, cfg.Key())
	require.True(t, ok, "%s registered", cfg.Key())
	_, err := cli.Revoke(t.Context(), lease)
	require.NoError(t, err, "revoke the instance's lease")

	limit := 10 * time.Second // the KeepAlive channel closes within about TTL/3; the margin is for a loaded machine
	deadline := time.Now().Add(limit)
	for {
		if got, ok := leaseOf(t, cli, cfg.Key()); ok && got != lease {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not registered again %v after its lease was lost, want a new lease: when the KeepAlive channel closes "+
				"while ctx is alive, grant a new lease and put the key again", cfg.Key(), limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// childEnv carries "endpoints|service|ttl seconds" to a child process that registers and waits to be killed.
const childEnv = "MICROLAB_05_ETCD_CHILD"

func runChild() int {
	parts := strings.Split(os.Getenv(childEnv), "|")
	secs, _ := strconv.Atoi(parts[2])
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(parts[0], ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := whoami.NewServer("killed")
	go func() { _ = srv.Serve(lis) }()
	cfg := etcdreg.Config{Client: cli, Service: parts[1], Addr: lis.Addr().String(), TTL: time.Duration(secs) * time.Second}
	if _, err := etcdreg.Register(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "Register:", err)
		return 1
	}
	select {} // until SIGKILL
}

// TestEtcdKilledInstanceLeaves kills (SIGKILL) a process that registered with a 2s TTL: nothing can revoke its
// lease, so only the lease's expiry can take it out, within TTL plus a margin; then calls reach the survivor only.
func TestEtcdKilledInstanceLeaves(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	service := ep.Prefix + "services/whoami"
	const ttl = 2 * time.Second
	register(t, config(cli, service, serve(t, "survivor"), ttl))

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+strings.Join(ep.Endpoints, ",")+"|"+service+"|"+strconv.Itoa(int(ttl/time.Second)))
	var stderr strings.Builder
	child.Stderr = &stderr
	require.NoError(t, child.Start(), "start the child process")
	exited := make(chan struct{})
	go func() { _ = child.Wait(); close(exited) }()
	t.Cleanup(func() { _ = child.Process.Kill(); <-exited })

	conn, err := etcdreg.Dial(cli, service)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	select {
	case <-exited:
		t.Fatalf("the child exited before it was killed: %s", stderr.String())
	default:
	}
	waitSeen(t, conn, 20*time.Second, "survivor", "killed")

	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	<-exited
	killed := time.Now()
	limit := ttl + 8*time.Second // the server expires leases on its own clock; the margin is for a loaded machine
	for {
		resp, err := cli.Get(t.Context(), service+"/", clientv3.WithPrefix())
		require.NoError(t, err)
		if resp.Count == 1 {
			break
		}
		if time.Since(killed) > limit {
			t.Fatalf("%d instances registered %v after one of two was killed (TTL %v), want 1: put the key with a lease of cfg.TTL, "+
				"so that it expires when the instance stops renewing it", resp.Count, limit, ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the killed instance left %v after SIGKILL (TTL %v)", time.Since(killed).Round(10*time.Millisecond), ttl)
	// The resolver's watch removes the address; give it a moment, then no call may go to the killed instance.
	deadline := time.Now().Add(5 * time.Second)
	for {
		seen := who(t, conn, 10)
		if seen["survivor"] == 10 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls after the killed instance left etcd went %v, want all to the survivor", seen)
		}
	}
}

// recorder collects what WatchConfig applies.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{} // signalled on every apply
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1000)} }

func (r *recorder) apply(value string, ok bool) {
	r.mu.Lock()
	if ok {
		r.got = append(r.got, value)
	} else {
		r.got = append(r.got, "<deleted>")
	}
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// waitFor waits until at least n values were applied and returns them, or fails with why.
func (r *recorder) waitFor(t *testing.T, n int, why string) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := r.values(); len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("WatchConfig applied %q within 10s, want at least %d values: %s", r.values(), n, why)
		}
	}
}

func watch(t *testing.T, ctx context.Context, cli *clientv3.Client, key string, r *recorder) <-chan struct{} {
	t.Helper()
	done, err := etcdreg.WatchConfig(ctx, cli, key, r.apply)
	require.NoError(t, err, "WatchConfig(%s)", key)
	return done
}

// TestEtcdConfigWatchAppliesInitialValueUpdatesAndDeletion starts with a value already set: WatchConfig applies
// it before it returns, then every change in order, a deletion as ok=false, and a value set again afterwards.
func TestEtcdConfigWatchAppliesInitialValueUpdatesAndDeletion(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	key := ep.Prefix + "config/limits"
	ctx, cancel := context.WithCancel(t.Context())
	_, err := cli.Put(ctx, key, "v1")
	require.NoError(t, err)

	r := newRecorder()
	done := watch(t, ctx, cli, key, r)
	if got := r.values(); len(got) != 1 || got[0] != "v1" {
		t.Fatalf("applied %q when WatchConfig returned, want [v1]: read the current value first, or an instance starts "+
			"without the config that was set before it", got)
	}
	for _, op := range []string{"v2", "v3", "", "v4"} {
		if op == "" {
			_, err = cli.Delete(ctx, key)
		} else {
			_, err = cli.Put(ctx, key, op)
		}
		require.NoError(t, err)
	}
	want := []string{"v1", "v2", "v3", "<deleted>", "v4"}
	got := r.waitFor(t, len(want), "every change of the key must be applied, in order")
	require.Equal(t, want, got, "values WatchConfig applied, want each once and in order (a deletion as ok=false)")
	cancel()
	waitClosed(t, done, "WatchConfig's channel", "the watch goroutine must end when ctx is done")
}

// hookKV runs after once after the first Get through it returns: a write between WatchConfig's read and its
// watch, made deterministic.
type hookKV struct {
	clientv3.KV
	once  sync.Once
	after func()
}

func (h *hookKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	resp, err := h.KV.Get(ctx, key, opts...)
	if err == nil {
		h.once.Do(h.after)
	}
	return resp, err
}

// TestEtcdConfigWatchMissesNothingBetweenReadAndWatch writes v2 right after WatchConfig's first read, before its
// watch can start: a watch from "now" misses it, a watch from the read's revision + 1 does not.
func TestEtcdConfigWatchMissesNothingBetweenReadAndWatch(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	writer := newClient(t, ep)
	key := ep.Prefix + "config/limits"
	_, err := writer.Put(t.Context(), key, "v1")
	require.NoError(t, err)
	cli.KV = &hookKV{KV: cli.KV, after: func() {
		_, err := writer.Put(context.Background(), key, "v2")
		require.NoError(t, err)
	}}

	r := newRecorder()
	watch(t, t.Context(), cli, key, r)
	got := r.waitFor(t, 2, "v2 was written after the first read: watch from that read's revision + 1 (clientv3.WithRev), not from now")
	require.Equal(t, []string{"v1", "v2"}, got, "values WatchConfig applied")
}

// TestEtcdConfigWatchRecoversFromCompaction writes v2 and v3 after WatchConfig's first read and compacts them
// away before its watch starts: the watch fails with a compaction, and WatchConfig must read the key again.
func TestEtcdConfigWatchRecoversFromCompaction(t *testing.T) {
	ep := infra.Etcd(t)
	cli := newClient(t, ep)
	writer := newClient(t, ep)
	key := ep.Prefix + "config/limits"
	_, err := writer.Put(t.Context(), key, "v1")
	require.NoError(t, err)
	cli.KV = &hookKV{KV: cli.KV, after: func() {
		ctx := context.Background()
		_, err := writer.Put(ctx, key, "v2")
		require.NoError(t, err)
		resp, err := writer.Put(ctx, key, "v3")
		require.NoError(t, err)
		_, err = writer.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
		require.NoError(t, err)
	}}

	r := newRecorder()
	watch(t, t.Context(), cli, key, r)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.values()
		if len(got) > 0 && got[len(got)-1] == "v3" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied %q, want v3 in the end: after a compaction the watch closes with ErrCompacted; read the current "+
				"value again and watch from there, or the config stays stale for ever", got)
		}
		select {
		case <-r.ch:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestEtcdNoGoroutineLeftAfterCancel runs Register and WatchConfig, cancels both and closes the client: no
// goroutine of theirs may be left.
func TestEtcdNoGoroutineLeftAfterCancel(t *testing.T) {
	ep := infra.Etcd(t)
	addr := serve(t, "a")
	// The shared etcd server (in-process on some providers) and the test's own goroutines are there already.
	ignore := goleak.IgnoreCurrent()
	cli, err := clientv3.New(clientv3.Config{Endpoints: ep.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := etcdreg.Register(ctx, config(cli, ep.Prefix+"services/whoami", addr, 2*time.Second))
	require.NoError(t, err)
	w, err := etcdreg.WatchConfig(ctx, cli, ep.Prefix+"config/limits", func(string, bool) {})
	require.NoError(t, err)
	cancel()
	waitClosed(t, reg, "Register's channel", "it must close once ctx is done")
	waitClosed(t, w, "WatchConfig's channel", "it must close once ctx is done")
	require.NoError(t, cli.Close())
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Register's and WatchConfig's channels closed and the client was closed, want none: %v", err)
	}
}
