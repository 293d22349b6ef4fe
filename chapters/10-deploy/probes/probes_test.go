package probes_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/10-deploy/probes"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

const (
	checkTimeout = 300 * time.Millisecond // Checker.Timeout
	maxStall     = 600 * time.Millisecond // Checker.MaxStall
	tick         = 50 * time.Millisecond  // Worker.Every
	// slack covers a loaded two-core machine (and the race detector) on top of each bound.
	slack = 2 * time.Second
	// hungBound is how fast readiness must answer while MySQL hangs: Checker.Timeout plus 700 ms for a loaded
	// machine (measured: 301-362 ms over 20 runs at a load average above 30). It stays under the kubelet's
	// default timeoutSeconds (1 s): a check bounded by anything but Checker.Timeout answers too late.
	hungBound = time.Second
	// maxOpen bounds the instance's pool, as in production (db.SetMaxOpenConns): a check that leaves a ping
	// hanging after it answered holds one of these connections for ever.
	maxOpen = 2
)

// instance is a Checker and a running Worker, served over HTTP, with MySQL behind a fault proxy.
type instance struct {
	url    string
	proxy  *toxiproxy.Proxy
	worker *probes.Worker
	mysql  []string // addresses of MySQL and of its proxy: not for the probe's answer
	db     *sql.DB  // the instance's pool
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	dsn := infra.MySQL(t)
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(srv, "mysql", "127.0.0.1:0", cfg.Addr)
	require.NoError(t, proxy.Start())
	t.Cleanup(proxy.Stop)
	upstream := cfg.Addr
	cfg.Addr = proxy.Listen
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	db.SetMaxOpenConns(maxOpen)
	t.Cleanup(func() { db.Close() })

	hb := &probes.Heartbeat{}
	worker := &probes.Worker{Jobs: make(chan func()), Beat: hb, Every: tick}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); worker.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	c := &probes.Checker{DB: db, Worker: hb, Timeout: checkTimeout, MaxStall: maxStall}
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	return &instance{url: ts.URL, proxy: proxy, worker: worker, mysql: []string{upstream, proxy.Listen}, db: db}
}

// probe is one GET as the kubelet does it: it gives up after limit.
func (in *instance) probe(path string, limit time.Duration) (int, time.Duration, error) {
	cl := &http.Client{Timeout: limit}
	begin := time.Now()
	resp, err := cl.Get(in.url + path)
	took := time.Since(begin)
	if err != nil {
		return 0, took, err
	}
	resp.Body.Close()
	return resp.StatusCode, took, nil
}

// quiet checks that a failing probe says little: no address, no driver error. Probes answer anyone who
// reaches the port; the reason belongs in the logs.
func (in *instance) quiet(t *testing.T, path string) {
	t.Helper()
	cl := &http.Client{Timeout: checkTimeout + slack}
	resp, err := cl.Get(in.url + path)
	require.NoError(t, err, "GET %s", path)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err, "GET %s: body", path)
	leaks := append([]string{"dial ", "tcp", "refused", "deadline", "bad connection", "invalid connection", "i/o timeout"}, in.mysql...)
	for _, leak := range leaks {
		if strings.Contains(strings.ToLower(string(body)), leak) {
			t.Fatalf("GET %s = %d %q, want a short body without %q: probes are reachable by anyone who reaches the port; "+
				"keep the database's address and the driver's error in the logs", path, resp.StatusCode, body, leak)
		}
	}
}

// expect probes path until it answers want, for at most within, and fails saying why it matters.
func (in *instance) expect(t *testing.T, path string, want int, within time.Duration, why string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, took, err := in.probe(path, checkTimeout+slack)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("GET %s = no answer within %v (%v), want %d: %s", path, took.Round(time.Millisecond), err, want, why)
			}
			t.Fatalf("GET %s = %d, want %d: %s", path, got, want, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hold checks that path keeps answering want for d (several probe periods): one lucky answer is not enough.
func (in *instance) hold(t *testing.T, path string, want int, d time.Duration, why string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		got, took, err := in.probe(path, checkTimeout+slack)
		if err != nil {
			t.Fatalf("GET %s = no answer within %v (%v), want %d: %s", path, took.Round(time.Millisecond), err, want, why)
		}
		if got != want {
			t.Fatalf("GET %s = %d, want %d: %s", path, got, want, why)
		}
	}
}

func TestProbesHealthy(t *testing.T) {
	in := newInstance(t)
	in.expect(t, "/readyz", http.StatusOK, slack, "MySQL answers, so the instance can serve: ready")
	in.expect(t, "/livez", http.StatusOK, slack, "the worker loop runs: alive")
	// An idle worker is not a stuck one: for several MaxStall periods without a job it must stay alive.
	in.hold(t, "/livez", http.StatusOK, 3*maxStall, fmt.Sprintf("the worker has no job but its loop runs; "+
		"beat on every turn of the loop, idle turns (every Worker.Every) included, and fail only after MaxStall (%v) without a beat", maxStall))
	// A job that takes a while but less than MaxStall is progress too.
	ran := make(chan struct{})
	select {
	case in.worker.Jobs <- func() { time.Sleep(maxStall / 3); close(ran) }:
	case <-time.After(slack):
		t.Fatal("the worker did not take a job within 2s; want Worker.Run to run jobs from Jobs")
	}
	<-ran
	in.hold(t, "/livez", http.StatusOK, maxStall, "a job shorter than MaxStall finished; the worker is alive")
}

func TestProbesDatabaseDown(t *testing.T) {
	in := newInstance(t)
	in.expect(t, "/readyz", http.StatusOK, slack, "MySQL answers, so the instance can serve: ready")

	in.proxy.Stop() // MySQL is gone: open connections are cut, new ones refused
	in.expect(t, "/readyz", http.StatusServiceUnavailable, checkTimeout+slack,
		"MySQL refuses connections, so this instance cannot serve: take it out of the load balancer; "+
			"check the database on every probe, not once at start")
	in.hold(t, "/livez", http.StatusOK, 3*maxStall,
		"MySQL is down but the process is fine: liveness checks only the process (the worker's heartbeat), "+
			"never a dependency, or every instance restarts at once and the outage gets worse")
	in.hold(t, "/readyz", http.StatusServiceUnavailable, 2*checkTimeout, "MySQL is still down")
	in.quiet(t, "/readyz")

	require.NoError(t, in.proxy.Start(), "bring MySQL back")
	in.expect(t, "/readyz", http.StatusOK, checkTimeout+slack,
		"MySQL is back: the instance must return to service by itself, without a restart")
}

func TestProbesDatabaseHangs(t *testing.T) {
	in := newInstance(t)
	in.expect(t, "/readyz", http.StatusOK, slack, "MySQL answers, so the instance can serve: ready")

	// A black hole: the connections stay open, but nothing goes through (a network partition, a frozen server).
	for _, stream := range []string{"upstream", "downstream"} {
		body := fmt.Sprintf(`{"name":"hang-%s","type":"timeout","stream":%q,"attributes":{"timeout":0}}`, stream, stream)
		_, err := in.proxy.Toxics.AddToxicJson(strings.NewReader(body))
		require.NoError(t, err)
	}
	// More probes than the pool has connections: each must answer on its own within the bound.
	for i := 1; i <= maxOpen+2; i++ {
		got, took, err := in.probe("/readyz", checkTimeout+slack)
		if err != nil {
			t.Fatalf("GET /readyz #%d with MySQL hanging = no answer within %v (%v), want 503 within Checker.Timeout (%v): "+
				"bound the check with a deadline, or the prober times out and a hung check piles up on every probe",
				i, took.Round(time.Millisecond), err, checkTimeout)
		}
		require.Equal(t, http.StatusServiceUnavailable, got, "GET /readyz #%d with MySQL hanging = %d, want 503", i, got)
		if took >= hungBound {
			t.Fatalf("GET /readyz #%d with MySQL hanging answered 503 after %v, want within Checker.Timeout (%v; %v allowed on a "+
				"loaded machine): bound the ping with Checker.Timeout (context.WithTimeout(r.Context(), c.Timeout)), "+
				"which is set shorter than the prober's own timeout", i, took.Round(time.Millisecond), checkTimeout, hungBound)
		}
		if i == 1 {
			t.Logf("GET /readyz with MySQL hanging answered %d in %v (Checker.Timeout %v)", got, took.Round(time.Millisecond), checkTimeout)
		}
	}
	in.quiet(t, "/readyz")
	// Every check has answered: none may still hold a connection of the pool. (A ping ended by its deadline
	// gives its connection back at once; allow slack for a loaded machine.)
	for deadline := time.Now().Add(slack); in.db.Stats().InUse > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pool connections in use %v after every readiness check answered = %d, want 0: a check that gives up "+
				"must stop its ping too (PingContext under the deadline, not a goroutine raced against a timer), or each "+
				"probe against a hung database holds a connection until the pool (MaxOpenConns %d) has none left",
				slack, in.db.Stats().InUse, maxOpen)
		}
	}
	in.hold(t, "/livez", http.StatusOK, 2*maxStall,
		"MySQL hangs but the process is fine: liveness must not wait on a dependency")

	// The partition heals. The checks that gave up must not have left pings hanging on the pool's connections.
	for _, stream := range []string{"upstream", "downstream"} {
		require.NoError(t, in.proxy.Toxics.RemoveToxic(context.Background(), "hang-"+stream))
	}
	in.expect(t, "/readyz", http.StatusOK, checkTimeout+slack, fmt.Sprintf("MySQL answers again, so readiness must come "+
		"back by itself; a check that gives up must also stop its ping (PingContext under the deadline), or each hung "+
		"ping keeps a pool connection for ever and, with MaxOpenConns %d, the pool never gets one back", maxOpen))
}

func TestProbesDeadlockedWorker(t *testing.T) {
	in := newInstance(t)
	in.expect(t, "/livez", http.StatusOK, slack, "the worker loop runs: alive")

	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	select {
	case in.worker.Jobs <- func() { <-stuck }: // a job that never returns, like a lock taken twice
	case <-time.After(slack):
		t.Fatal("the worker did not take a job within 2s; want Worker.Run to run jobs from Jobs")
	}
	stuckAt := time.Now()
	in.expect(t, "/livez", http.StatusServiceUnavailable, maxStall+slack,
		fmt.Sprintf("the worker has been stuck in one job for longer than MaxStall (%v): only a restart helps. "+
			"Run each job in the worker's loop itself and beat from that loop, not from a separate goroutine, and compare the "+
			"heartbeat's age to MaxStall", maxStall))
	t.Logf("GET /livez turned 503 %v after the worker got stuck (MaxStall %v)", time.Since(stuckAt).Round(time.Millisecond), maxStall)
}
