package instance_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gomicrolab/microlab/chapters/05-discovery/instance"
	"github.com/gomicrolab/microlab/chapters/05-discovery/internal/consultest"
	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(infra.Main(m))
}

const drainDelay = 400 * time.Millisecond

// running is one instance.Run in the background.
type running struct {
	cancel   context.CancelFunc
	finished chan struct{} // closed when Run has returned err
	err      error
	returned time.Time // when Run returned; read it after finished is closed
}

func start(t *testing.T, cfg instance.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(r.finished)
		r.err = instance.Run(ctx, cfg)
		r.returned = time.Now()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.finished:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

// stop cancels the instance and waits for Run to return.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	limit := drainDelay + 5*time.Second
	select {
	case <-r.finished:
		return r.err
	case <-time.After(limit):
		t.Fatalf("instance.Run did not return within %v after its context was cancelled", limit)
		return nil
	}
}

// watchInstance blocks (with Consul blocking queries) until instance id's presence in the registry equals want,
// and returns its registration when present. It fails the test if Run returns first.
func watchInstance(t *testing.T, c *api.Client, service, id string, want bool, r *running) *api.AgentService {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var index uint64
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: 200 * time.Millisecond}).WithContext(ctx)
		entries, meta, err := c.Health().Service(service, "", false, q)
		require.NoError(t, err, "watching %s in Consul", service)
		index = meta.LastIndex
		var found *api.AgentService
		for _, e := range entries {
			if e.Service.ID == id {
				found = e.Service
			}
		}
		if (found != nil) == want {
			return found
		}
		select {
		case <-r.finished:
			if want {
				t.Fatalf("instance.Run returned %v before %s appeared in Consul; want it to serve and register", r.err, id)
			}
			t.Fatalf("instance.Run returned %v while %s is still registered in Consul; want it to deregister before it stops", r.err, id)
		default:
		}
	}
}

// whoAt calls whoami at addr once, failing fast: no waiting for the server to come up.
func whoAt(ctx context.Context, addr string) (string, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return whoami.Who(ctx, conn)
}

func hostPort(s *api.AgentService) string { return net.JoinHostPort(s.Address, fmt.Sprint(s.Port)) }

func TestRegisterAfterListening(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"

	var (
		listened  atomic.Value // the address the instance really listens on
		listenErr atomic.Value // set when the instance was registered before it listened
	)
	cfg := instance.Config{
		Consul: c, Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay,
		Listen: func(network, address string) (net.Listener, error) {
			if s, _, err := c.Agent().Service(id, nil); err == nil && s != nil {
				listenErr.Store("the instance was registered in Consul before it listened; register only once you serve")
			}
			lis, err := net.Listen(network, address)
			if err == nil {
				listened.Store(lis.Addr().String())
			}
			return lis, err
		},
	}
	r := start(t, cfg)

	reg := watchInstance(t, c, service, id, true, r)
	// Dial the very moment the registry shows the instance, as a client would.
	got, err := whoAt(context.Background(), hostPort(reg))
	require.NoError(t, err, "Who(%s) right after %s appeared in Consul; want an answer: register only once you serve", hostPort(reg), id)
	require.Equal(t, id, got, "Who(%s)", hostPort(reg))
	require.Nil(t, listenErr.Load())
	require.Equal(t, listened.Load(), hostPort(reg), "registered address = %s, want the address the listener got", hostPort(reg))

	require.NoError(t, r.stop(t), "instance.Run after cancel; want nil after a clean shutdown: deregister under a context that the cancelled ctx does not cut short")
}

func TestRegisterDeregistersBeforeStopping(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"

	r := start(t, instance.Config{Consul: c, Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay})
	reg := watchInstance(t, c, service, id, true, r)
	addr := hostPort(reg)
	time.Sleep(100 * time.Millisecond) // Consul lists it a moment before Run's register call returns

	r.cancel()
	stopAsked := time.Now()
	watchInstance(t, c, service, id, false, r)
	left := time.Now()
	// The registry no longer lists the instance; clients with an older list may still call it for a moment.
	got, err := whoAt(context.Background(), addr)
	require.NoError(t, err, "Who(%s) the moment %s left Consul; want it still serving for DrainDelay after deregistering", addr, id)
	require.Equal(t, id, got)

	require.NoError(t, r.stop(t), "instance.Run after cancel; want nil after a clean shutdown: deregister under a context that the cancelled ctx does not cut short")
	require.GreaterOrEqual(t, time.Since(stopAsked), drainDelay, "instance.Run returned before DrainDelay had passed since deregistering")
	// The drain belongs after the deregistration: Run must keep serving for DrainDelay once the instance is out
	// of the registry. Half of it is the bound, because the blocking query above sees the deregistration a
	// little after it happened (milliseconds on loopback), which only shortens the gap measured here.
	if served := r.returned.Sub(left); served < drainDelay/2 {
		t.Fatalf("instance.Run returned %v after %s left Consul, want about DrainDelay (%v): deregister first, then "+
			"keep serving for DrainDelay, then stop; a drain before the deregistration leaves clients no time to drop "+
			"the instance from their lists", served.Round(time.Millisecond), id, drainDelay)
	}
	_, err = whoAt(context.Background(), addr)
	require.Error(t, err, "Who(%s) after instance.Run returned = nil error; want the server stopped", addr)
}

// TestRegisterStopLetsCallsInFlightFinish holds a call open (a health Watch stream) while the instance stops: the
// shutdown must wait for it rather than cut it, or every deploy fails the calls that are running at that moment.
func TestRegisterStopLetsCallsInFlightFinish(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"

	r := start(t, instance.Config{Consul: c, Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay})
	addr := hostPort(watchInstance(t, c, service, id, true, r))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	callCtx, endCall := context.WithCancel(context.Background())
	defer endCall()
	stream, err := healthpb.NewHealthClient(conn).Watch(callCtx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err, "health Watch on %s", addr)
	_, err = stream.Recv()
	require.NoError(t, err, "first message of health Watch on %s", addr)
	callEnded := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				callEnded <- err
				return
			}
		}
	}()

	r.cancel()
	watchInstance(t, c, service, id, false, r)
	wait := drainDelay + 3*time.Second // the drain, then time for a stop that would cut the call; generous for a loaded machine
	select {
	case err := <-callEnded:
		t.Fatalf("a call in flight on %s ended with %v while instance.Run stopped; want the server to let it finish (GracefulStop, not Stop)", addr, err)
	case <-r.finished:
		t.Fatalf("instance.Run returned %v while a call was still in flight; want it to wait for calls in flight (GracefulStop)", r.err)
	case <-time.After(wait):
	}
	endCall() // the client finishes its call: now the server may stop
	require.NoError(t, r.stop(t), "instance.Run after the last call in flight finished; want nil after a clean shutdown")
}

// TestRegisterRollingRestartFailsNoRequest replaces both instances of a service one by one while a client keeps calling,
// always through a fresh look at the registry (passing instances only). Not one call may fail.
func TestRegisterRollingRestartFailsNoRequest(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service := ce.Prefix + "whoami"
	cfg := func(id string) instance.Config {
		return instance.Config{Consul: c, Service: service, ID: ce.Prefix + id, Addr: "127.0.0.1:0", DrainDelay: drainDelay}
	}

	live := map[string]*running{}
	for _, id := range []string{"v1-a", "v1-b"} {
		live[id] = start(t, cfg(id))
		watchInstance(t, c, service, ce.Prefix+id, true, live[id])
	}

	var (
		mu       sync.Mutex
		calls    int
		failures []error
		answered = map[string]int{}
	)
	ctx, stopClient := context.WithCancel(context.Background())
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		for n := 0; ctx.Err() == nil; n++ {
			entries, _, err := c.Health().Service(service, "", true, (&api.QueryOptions{}).WithContext(ctx))
			if ctx.Err() != nil {
				return
			}
			if err == nil && len(entries) == 0 {
				err = errors.New("no passing instance in Consul")
			}
			if err == nil {
				addr := hostPort(entries[n%len(entries)].Service)
				var id string
				id, err = whoAt(context.Background(), addr)
				if err != nil {
					err = fmt.Errorf("Who(%s): %w", addr, err)
				} else {
					mu.Lock()
					answered[id]++
					mu.Unlock()
				}
			}
			mu.Lock()
			calls++
			if err != nil {
				failures = append(failures, err)
			}
			mu.Unlock()
		}
	}()

	roll := [][2]string{{"v1-a", "v2-a"}, {"v1-b", "v2-b"}}
	for _, step := range roll {
		old, next := step[0], step[1]
		live[next] = start(t, cfg(next))
		watchInstance(t, c, service, ce.Prefix+next, true, live[next])
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, live[old].stop(t), "instance.Run(%s) after cancel; want nil after a clean shutdown", old)
		time.Sleep(100 * time.Millisecond)
	}
	stopClient()
	<-clientDone

	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("%d of %d calls failed during the rolling restart, want none; the first: %v", len(failures), calls, failures[0])
	}
	require.Greater(t, answered[ce.Prefix+"v2-a"]+answered[ce.Prefix+"v2-b"], 0, "no call reached the new instances; answers: %v", answered)
}

func TestRegisterServeErrorDeregisters(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"

	lisCh := make(chan net.Listener, 1)
	r := start(t, instance.Config{
		Consul: c, Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay,
		Listen: func(network, address string) (net.Listener, error) {
			lis, err := net.Listen(network, address)
			if err == nil {
				lisCh <- lis
			}
			return lis, err
		},
	})
	watchInstance(t, c, service, id, true, r)
	time.Sleep(100 * time.Millisecond) // Consul lists it a moment before Run's register call returns

	// The server dies on its own (its listener breaks): Serve returns an error while ctx is still live.
	require.NoError(t, (<-lisCh).Close())
	select {
	case <-r.finished:
	case <-time.After(5 * time.Second):
		t.Fatal("instance.Run still running 5s after its listener broke and Serve returned an error; want Run to notice, deregister and return the error")
	}
	require.Error(t, r.err, "instance.Run after Serve failed = nil error; want the serve error returned")
	registered, err := consultest.Registered(context.Background(), c, service)
	require.NoError(t, err)
	require.NotContains(t, registered, id, "instance.Run returned %v but left %s registered; want every way out to deregister, or clients keep calling a dead address", r.err, id)
}

func TestRegisterFailureReleasesListener(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	rec.SetDown(true) // every call to Consul fails
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"

	var listened atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- instance.Run(ctx, instance.Config{
			Consul: consultest.Client(t, rec.Addr), Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay,
			Listen: func(network, address string) (net.Listener, error) {
				lis, err := net.Listen(network, address)
				if err == nil {
					listened.Store(lis.Addr().String())
				}
				return lis, err
			},
		})
	}()
	select {
	case err := <-done:
		require.Error(t, err, "instance.Run with Consul failing every call = nil error; want the registration error")
	case <-time.After(10 * time.Second):
		t.Fatal("instance.Run with Consul failing every call did not return within 10s; want it to give up and return the registration error")
	}
	addr, _ := listened.Load().(string)
	require.NotEmpty(t, addr, "instance.Run never listened")
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "dial %s after instance.Run failed to register = connected; want the server stopped and the port released on every error path", addr)
}

// The kill -9 test runs instance.Run in a child process (this test binary, re-executed) so that it can really be killed.
const childEnv = "MICROLAB_05_INSTANCE_CHILD"

// runChild is the child's main: it serves and registers with an active gRPC check until it is killed.
func runChild() int {
	parts := strings.Split(os.Getenv(childEnv), "|") // consul address | service | id
	cfg := api.DefaultConfig()
	cfg.Address = parts[0]
	c, err := api.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	service, id := parts[1], parts[2]
	err = instance.Run(context.Background(), instance.Config{
		Consul: c, Service: service, ID: id, Addr: "127.0.0.1:0", DrainDelay: drainDelay,
		Registration: func(addr *net.TCPAddr) (*api.AgentServiceRegistration, error) {
			return &api.AgentServiceRegistration{
				ID: id, Name: service, Address: addr.IP.String(), Port: addr.Port,
				Checks: api.AgentServiceChecks{{
					CheckID: id + ":grpc", GRPC: addr.String(), Interval: "300ms", Timeout: "300ms",
					DeregisterCriticalServiceAfter: "1m",
				}},
			}, nil
		},
	})
	fmt.Fprintln(os.Stderr, "instance.Run:", err)
	return 1
}

// TestRegisterKilledInstanceLeavesPassingSet kills (SIGKILL) a process running instance.Run with a registration that
// carries an active gRPC check. Nothing can deregister it; only the check Run registered can take it out of the
// passing set, which is what clients use.
func TestRegisterKilledInstanceLeavesPassingSet(t *testing.T) {
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"killed"
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(id) })

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+ce.Addr+"|"+service+"|"+id)
	stderr := &syncBuffer{}
	child.Stderr = stderr
	require.NoError(t, child.Start(), "start the child process")
	exited := make(chan struct{})
	go func() { _ = child.Wait(); close(exited) }()
	t.Cleanup(func() { _ = child.Process.Kill(); <-exited })

	waitPassing := func(want bool, limit time.Duration, when, why string) time.Duration {
		begin := time.Now()
		for {
			passing, err := consultest.Passing(context.Background(), c, service)
			require.NoError(t, err, "passing instances of %s", service)
			if passing[id] == want {
				return time.Since(begin)
			}
			if time.Since(begin) > limit {
				t.Fatalf("%s passing = %v %v %s, want %v: %s (child output: %q)", id, !want, limit, when, want, why, stderr.String())
			}
			select {
			case <-exited:
				if want {
					t.Fatalf("the child running instance.Run exited before %s passed: %q", id, stderr.String())
				}
			default:
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitPassing(true, 10*time.Second, "after start", "want it registered with its check, passing once the gRPC check has run")

	require.NoError(t, child.Process.Kill(), "kill -9 the child")
	<-exited
	bound := 300*time.Millisecond + 300*time.Millisecond + 4*time.Second // interval + timeout + slack for a loaded machine
	took := waitPassing(false, bound, "after kill -9", "want Run to register the checks Config.Registration returns; without them a killed instance stays passing for ever and clients keep calling it")
	t.Logf("left the passing set %v after kill -9 (bound %v)", took.Round(time.Millisecond), bound)
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
