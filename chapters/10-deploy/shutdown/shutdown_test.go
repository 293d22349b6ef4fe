package shutdown_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/10-deploy/shutdown"
	"github.com/gomicrolab/microlab/infra"
)

// The instance runs in a child process (this test binary, re-executed) so that it gets a real SIGTERM and
// really exits. The test watches it from outside: its /readyz, Consul, its connections, Kafka and MySQL.
const childEnv = "MICROLAB_10_SHUTDOWN_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(infra.Main(m))
}

// childSpec is what the parent tells the child.
type childSpec struct {
	Consul, Service, ID, DSN string
	Brokers                  []string
	Topic, Group, Gate       string
	DrainDelay, Budget       time.Duration
	// StuckWork makes the held work ignore cancellation, like code stuck on a lock or in a call without a
	// deadline: only a drain with a deadline gets past it.
	StuckWork bool
}

func runChild(spec string) int {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	cc := api.DefaultConfig()
	cc.Address = s.Consul
	c, err := api.NewClient(cc)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return shutdown.Main(shutdown.Config{
		Addr: "127.0.0.1:0", Consul: c, Service: s.Service, ID: s.ID, DSN: s.DSN,
		Brokers: s.Brokers, Topic: s.Topic, Group: s.Group, DrainDelay: s.DrainDelay, Budget: s.Budget,
		// The slow work asks the test's gate, which holds it as long as the test wants.
		Work: func(ctx context.Context, what string) error {
			if s.StuckWork {
				ctx = context.WithoutCancel(ctx)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Gate+"?what="+url.QueryEscape(what), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("gate: %s", resp.Status)
			}
			return nil
		},
	})
}

// gate holds the child's work named in held until released; other work passes at once.
type gate struct {
	mu       sync.Mutex
	held     map[string]chan struct{} // closed on release
	arrivals map[string]chan struct{} // closed when that work first arrives
	URL      string
}

func newGate(t *testing.T, held ...string) *gate {
	g := &gate{held: map[string]chan struct{}{}, arrivals: map[string]chan struct{}{}}
	for _, h := range held {
		g.held[h] = make(chan struct{})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release := g.arrive(r.URL.Query().Get("what"))
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(lis)
	t.Cleanup(func() { g.releaseAll(); srv.Close() })
	g.URL = "http://" + lis.Addr().String() + "/gate"
	return g
}

// arrivalLocked returns the channel closed when what first arrives; g.mu is held.
func (g *gate) arrivalLocked(what string) chan struct{} {
	ch, ok := g.arrivals[what]
	if !ok {
		ch = make(chan struct{})
		g.arrivals[what] = ch
	}
	return ch
}

// arrive records that what arrived and returns the channel that releases it (nil: pass at once).
func (g *gate) arrive(what string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := g.arrivalLocked(what)
	select {
	case <-ch:
	default:
		close(ch)
	}
	return g.held[what]
}

func (g *gate) arrived(what string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.arrivalLocked(what)
}

func (g *gate) wait(t *testing.T, child *child, what, why string) {
	t.Helper()
	select {
	case <-g.arrived(what):
	case <-child.exited:
		t.Fatalf("the instance exited before %s started (%s); its output:\n%s", what, why, child.out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start within 20s of the instance's start: %s; its output:\n%s", what, why, child.out.String())
	}
}

func (g *gate) release(what string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch := g.held[what]; ch != nil {
		close(ch)
		delete(g.held, what)
	}
}

func (g *gate) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for what, ch := range g.held {
		close(ch)
		delete(g.held, what)
	}
}

// consulProxy forwards to Consul, and at the moment a deregistration arrives (before forwarding it) asks the
// instance's /readyz: the order of "not ready" and "deregister" seen from outside, without polling races.
type consulProxy struct {
	Addr     string
	instance func() string // the instance's address

	mu      sync.Mutex
	dereg   chan struct{} // closed at the first deregistration
	deregAt time.Time
	ready   string // what /readyz answered at that moment: "503", "200", or the error
}

func newConsulProxy(t *testing.T, consulAddr string, instance func() string) *consulProxy {
	p := &consulProxy{instance: instance, dereg: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: consulAddr})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/") {
			p.sawDeregister()
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	p.Addr = lis.Addr().String()
	return p
}

func (p *consulProxy) sawDeregister() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.dereg:
		return
	default:
	}
	p.deregAt = time.Now()
	p.ready = "no address"
	if addr := p.instance(); addr != "" {
		cl := &http.Client{Timeout: 2 * time.Second}
		resp, err := cl.Get("http://" + addr + "/readyz")
		if err != nil {
			p.ready = err.Error()
		} else {
			resp.Body.Close()
			p.ready = fmt.Sprint(resp.StatusCode)
		}
	}
	close(p.dereg)
}

// dbProxy forwards TCP to MySQL and remembers, for every connection, whether the client ended it with
// COM_QUIT (what sql.DB.Close sends) rather than just vanishing.
type dbProxy struct {
	Addr string
	mu   sync.Mutex
	open int
	quit int // connections the client ended with COM_QUIT
	cut  int // connections that ended without it
}

func newDBProxy(t *testing.T, upstream string) *dbProxy {
	p := &dbProxy{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.Addr = lis.Addr().String()
	var (
		wg     sync.WaitGroup
		closed bool // under p.mu: no wg.Add once cleanup waits
	)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if closed {
				p.mu.Unlock()
				c.Close()
				return
			}
			wg.Add(1)
			p.mu.Unlock()
			go func() { defer wg.Done(); p.serve(c, upstream) }()
		}
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		closed = true
		p.mu.Unlock()
		lis.Close()
		wg.Wait()
	})
	return p
}

var comQuit = []byte{1, 0, 0, 0, 1} // length 1, sequence 0, COM_QUIT

func (p *dbProxy) serve(c net.Conn, upstream string) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	var last []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			last = append(last[:0], buf[:n]...)
			if _, werr := up.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open--
	if len(last) >= len(comQuit) && string(last[len(last)-len(comQuit):]) == string(comQuit) {
		p.quit++
	} else {
		p.cut++
	}
}

// counts waits (up to 10 s) until the proxy has seen every connection end, since the child's exit reaches the
// proxy's goroutines a moment later, and returns what it saw.
func (p *dbProxy) counts() (open, quit, cut int) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		open, quit, cut = p.open, p.quit, p.cut
		p.mu.Unlock()
		if open == 0 || time.Now().After(deadline) {
			return open, quit, cut
		}
	}
}

// child is the instance's process.
type child struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Under -race the detector sleeps 1 s at exit by default; the exit time measured here is the program's own.
	cmd.Env = append(os.Environ(), childEnv+"="+string(b), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start(), "start the instance's process")
	ch := &child{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(ch.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-ch.exited })
	return ch
}

// env is one test's world: MySQL, Consul and Kafka behind what the test observes.
type env struct {
	spec   childSpec
	db     *sql.DB
	consul *api.Client
	cp     *consulProxy
	dp     *dbProxy
	adm    *kadm.Client
	addr   func() string
	setAdr func(string)
}

func newEnv(t *testing.T, g *gate, events int, drainDelay, budget time.Duration) *env {
	t.Helper()
	dsn := infra.MySQL(t)
	ce := infra.Consul(t)
	ke := infra.Kafka(t)

	cfg, err := mysqlConfig(dsn)
	require.NoError(t, err)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	dp := newDBProxy(t, cfg.Addr)
	cfg.Addr = dp.Addr

	cc := api.DefaultConfig()
	cc.Address = ce.Addr
	consul, err := api.NewClient(cc)
	require.NoError(t, err)
	// Consul refuses an address with more than 200 open connections (http_max_conns_per_client), and every
	// test on this machine talks to it from 127.0.0.1: close the keep-alive connections at cleanup.
	t.Cleanup(cc.Transport.CloseIdleConnections)
	var mu sync.Mutex
	var addr string
	e := &env{db: db, consul: consul, dp: dp}
	e.addr = func() string { mu.Lock(); defer mu.Unlock(); return addr }
	e.setAdr = func(a string) { mu.Lock(); defer mu.Unlock(); addr = a }
	e.cp = newConsulProxy(t, ce.Addr, e.addr)

	topic := ke.TopicPrefix + "orders"
	kc, err := kgo.NewClient(kgo.SeedBrokers(ke.Brokers...))
	require.NoError(t, err)
	t.Cleanup(kc.Close)
	e.adm = kadm.NewClient(kc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := e.adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	require.NoError(t, err, "create topic %s", topic)
	for i := 1; i <= events; i++ {
		require.NoError(t, kc.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i))}).FirstErr())
	}
	e.spec = childSpec{
		Consul: e.cp.Addr, Service: ce.Prefix + "orders", ID: ce.Prefix + "orders-1", DSN: cfg.FormatDSN(),
		Brokers: ke.Brokers, Topic: topic, Group: ke.TopicPrefix + "orders-group", Gate: g.URL,
		DrainDelay: drainDelay, Budget: budget,
	}
	t.Cleanup(func() { _ = consul.Agent().ServiceDeregister(e.spec.ID) })
	return e
}

// waitRegistered waits until Consul lists the instance, then until its /readyz says 200, and returns its address.
func (e *env) waitRegistered(t *testing.T, c *child) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		services, _, err := e.consul.Catalog().Service(e.spec.Service, "", nil)
		require.NoError(t, err, "Consul catalog")
		for _, s := range services {
			if s.ServiceID == e.spec.ID {
				addr := net.JoinHostPort(s.ServiceAddress, fmt.Sprint(s.ServicePort))
				e.setAdr(addr)
				if status, _ := readyz(addr); status == http.StatusOK {
					return addr
				}
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("the instance exited before it was registered and ready; want Run to serve, register in Consul and report ready on /readyz; its output:\n%s", c.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance was not registered in Consul with /readyz = 200 within 30s; want Run to serve, register, then report ready; its output:\n%s", c.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyz(addr string) (int, error) {
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// committed is the group's committed offset on partition 0 (-1: none).
func (e *env) committed(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offsets, err := e.adm.FetchOffsets(ctx, e.spec.Group)
	require.NoError(t, err, "committed offsets of %s", e.spec.Group)
	o, ok := offsets.Lookup(e.spec.Topic, 0)
	if !ok {
		return -1
	}
	return o.At
}

func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// post sends POST /orders?id=id in the background; the result arrives on the channel.
func post(addr, id string) <-chan string {
	res := make(chan string, 1)
	go func() {
		cl := &http.Client{Timeout: 60 * time.Second}
		resp, err := cl.Post("http://"+addr+"/orders?id="+id, "text/plain", nil)
		if err != nil {
			res <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}()
	return res
}

// waitRefused dials addr until the connection is refused and returns when that was first seen.
func waitRefused(t *testing.T, c *child, addr string, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return time.Now()
		}
		conn.Close()
		select {
		case <-c.exited:
			t.Fatalf("the instance exited while a request and a message were still in flight; want it to wait for them (drain), then exit; its output:\n%s", c.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections %v after SIGTERM; want the listener closed once the drain starts (http.Server.Shutdown), so that no new work comes in", addr, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *child) wait(t *testing.T, limit time.Duration, why string) {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(limit):
		t.Fatalf("the instance did not exit within %v of SIGTERM: %s; its output:\n%s", limit, why, c.out.String())
	}
}

// TestShutdownInOrder stops an instance that holds an HTTP request and a Kafka message in flight, and checks every
// step from outside: not ready before it leaves Consul, still serving when it leaves, listener closed after
// DrainDelay, the work in flight finished (it needs MySQL at its end), offsets committed, MySQL closed cleanly.
func TestShutdownInOrder(t *testing.T) {
	const drainDelay, budget = 500 * time.Millisecond, 15 * time.Second
	g := newGate(t, "order-1", "event-3")
	e := newEnv(t, g, 3, drainDelay, budget)
	c := startChild(t, e.spec)
	addr := e.waitRegistered(t, c)

	answer := post(addr, "1")
	g.wait(t, c, "order-1", "POST /orders?id=1 must be served")
	g.wait(t, c, "event-3", "want the consumer to poll the topic and process events 1, 2 and 3 in order")

	sigAt := time.Now()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))

	select {
	case <-e.cp.dereg:
	case <-c.exited:
		t.Fatalf("the instance exited after SIGTERM without deregistering from Consul; want: not ready -> deregister -> drain -> commit -> close the database; its output:\n%s", c.out.String())
	case <-time.After(budget):
		t.Fatalf("the instance did not deregister from Consul within %v of SIGTERM; want Run to leave the registry first thing (after reporting not ready); its output:\n%s", budget, c.out.String())
	}
	e.cp.mu.Lock()
	readyAtDereg, deregAt := e.cp.ready, e.cp.deregAt
	e.cp.mu.Unlock()
	require.Equal(t, "503", readyAtDereg,
		"GET /readyz at the moment the instance deregistered = %s, want 503: report not ready before leaving Consul, "+
			"and keep serving while you leave (probes and clients must still get an answer)", readyAtDereg)

	refusedAt := waitRefused(t, c, addr, budget)
	if kept := refusedAt.Sub(deregAt); kept < drainDelay {
		t.Fatalf("the listener closed %v after the instance deregistered, want at least DrainDelay (%v): keep serving "+
			"while clients with a stale list of instances move on, then drain", kept.Round(time.Millisecond), drainDelay)
	}
	select {
	case got := <-answer:
		t.Fatalf("POST /orders?id=1, held in flight, ended with %q before its work was done; want the drain to wait for it: "+
			"srv.Shutdown (Close cuts connections), and requests served under a context that SIGTERM does not cancel (BaseContext)", got)
	default:
	}

	// The request first: once it is answered the HTTP drain is over, but the message is still in flight.
	g.release("order-1")
	select {
	case got := <-answer:
		require.True(t, strings.HasPrefix(got, "200 "),
			"POST /orders?id=1 in flight at SIGTERM = %q, want 200: the drain lets requests in flight finish, "+
				"under a context SIGTERM does not cancel, with the database still open", got)
	case <-time.After(budget):
		t.Fatalf("POST /orders?id=1 did not answer within %v of its release", budget)
	}
	// Watch the instance for a while with event 3 still held: a correct one waits for it (until the drain's
	// deadline, 12 s away); one that does not wait commits, closes the database and exits within milliseconds.
	select {
	case <-c.exited:
		t.Fatalf("the instance exited (%s) while event 3 was still being processed; want the drain to wait for the "+
			"consumer's goroutine (the message in flight) before it commits offsets and closes the database; its output:\n%s",
			c.cmd.ProcessState, c.out.String())
	case <-time.After(1500 * time.Millisecond):
	}
	g.release("event-3")
	c.wait(t, budget, "want Run to return once the work in flight is done")
	exitAt := time.Now()
	require.Equal(t, 0, c.cmd.ProcessState.ExitCode(),
		"exit code after a clean shutdown = %d (%s), want 0: Main returns 0 when Run returns nil; its output:\n%s",
		c.cmd.ProcessState.ExitCode(), c.cmd.ProcessState, c.out.String())

	orders := e.count(t, "orders")
	require.Equal(t, 1, orders, "orders stored = %d, want 1: the request in flight stores its order", orders)
	events := e.count(t, "events")
	require.Equal(t, 3, events, "events stored = %d, want 3: the message in flight at SIGTERM must finish, "+
		"under a context that stopping the poll does not cancel, with the database still open", events)
	committed := e.committed(t)
	require.EqualValues(t, 3, committed,
		"committed offset after the shutdown = %d, want 3: commit the offsets of every record processed, "+
			"the one in flight at SIGTERM included, before the consumer leaves; otherwise the next instance processes it again", committed)
	open, quit, cut := e.dp.counts()
	require.Zero(t, cut+open, "%d MySQL connections ended without COM_QUIT (%d closed cleanly); want the pool closed "+
		"with db.Close() as the last step, not dropped when the process dies", cut+open, quit)
	services, _, err := e.consul.Catalog().Service(e.spec.Service, "", nil)
	require.NoError(t, err)
	require.Empty(t, services, "Consul still lists %v after the instance exited", services)
	t.Logf("SIGTERM -> deregistered %v -> listener closed %v -> exited %v (drain delay %v, work released at the close)",
		deregAt.Sub(sigAt).Round(time.Millisecond), refusedAt.Sub(sigAt).Round(time.Millisecond),
		exitAt.Sub(sigAt).Round(time.Millisecond), drainDelay)
}

// TestShutdownWithinBudget holds a request and a message for ever: the instance must still exit within its
// budget, commit only what it processed, and close MySQL. It stops the instance with SIGINT (Ctrl-C), which
// must shut it down the same way as SIGTERM.
func TestShutdownWithinBudget(t *testing.T) {
	const drainDelay, budget = 300 * time.Millisecond, 8 * time.Second
	g := newGate(t, "order-1", "event-2")
	e := newEnv(t, g, 2, drainDelay, budget)
	e.spec.StuckWork = true
	c := startChild(t, e.spec)
	addr := e.waitRegistered(t, c)

	answer := post(addr, "1")
	g.wait(t, c, "order-1", "POST /orders?id=1 must be served")
	g.wait(t, c, "event-2", "want the consumer to poll the topic and process events 1 and 2 in order")

	sigAt := time.Now()
	require.NoError(t, c.cmd.Process.Signal(os.Interrupt))
	// The budget, plus slack for a loaded two-core machine, to report a hang as such.
	limit := budget + 5*time.Second
	c.wait(t, limit, fmt.Sprintf("its budget is %v; give the drain a deadline (srv.Shutdown(ctx) and the wait for the consumer) and go on when it is spent", budget))
	took := time.Since(sigAt)
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the instance was killed by %v, want it to shut down in order on SIGINT (Ctrl-C) as on SIGTERM: "+
			"signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt); its output:\n%s", ws.Signal(), c.out.String())
	}
	// Config.Budget bounds the shutdown from the signal to the return of Run. The drain gets four fifths of it
	// (measured with a 5 s budget: gone 4.07-4.54 s after the signal; with 8 s the drain ends at 6.4 s, which
	// leaves the commit and the close more than 1 s on a loaded machine). A drain that takes it all leaves
	// nothing for them, and the orchestrator's SIGKILL comes in the middle of them.
	if took >= budget {
		t.Fatalf("the instance exited %v after SIGINT, want within its budget (%v): give the drain only part of the "+
			"budget (a deadline shorter than Budget), so that committing offsets and closing the database still fit; its output:\n%s",
			took.Round(time.Millisecond), budget, c.out.String())
	}
	require.Equal(t, 1, c.cmd.ProcessState.ExitCode(),
		"exit code after a shutdown that cut work off = %d (%s), want 1: Run returns the drain's error, so that the "+
			"orchestrator's logs show an unclean stop; its output:\n%s", c.cmd.ProcessState.ExitCode(), c.cmd.ProcessState, c.out.String())
	g.releaseAll()
	select {
	case got := <-answer:
		require.False(t, strings.HasPrefix(got, "200 "), "POST /orders?id=1 cut off by the budget = %q, want a failure", got)
	case <-time.After(10 * time.Second):
		t.Fatal("POST /orders?id=1 did not end within 10s after the instance exited")
	}

	events := e.count(t, "events")
	require.Equal(t, 1, events, "events stored = %d, want 1 (event 2 never finished)", events)
	committed := e.committed(t)
	require.EqualValues(t, 1, committed,
		"committed offset = %d, want 1: event 1 was processed, event 2 was still in flight when the budget ran out; "+
			"commit only records that were processed (marked), or the next instance skips event 2 and it is lost; "+
			"and keep some of the budget for the commit", committed)
	open, quit, cut := e.dp.counts()
	require.Zero(t, cut+open, "%d MySQL connections ended without COM_QUIT (%d closed cleanly); want db.Close() even when the drain ran out of time", cut+open, quit)
	t.Logf("SIGINT -> exited %v (budget %v)", took.Round(time.Millisecond), budget)
}

// syncBuffer collects a child's output; exec writes it from its own goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
