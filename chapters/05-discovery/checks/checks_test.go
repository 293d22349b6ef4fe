package checks_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/05-discovery/checks"
	"github.com/gomicrolab/microlab/chapters/05-discovery/internal/consultest"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

func validOptions() checks.Options {
	return checks.Options{
		Service: "orders", ID: "orders-1", Host: "127.0.0.1", Port: 9001,
		Interval: time.Second, Timeout: 500 * time.Millisecond, TTL: 3 * time.Second, DeregisterAfter: 90 * time.Second,
	}
}

func TestHealthRegistrationDescribesBothChecks(t *testing.T) {
	o := validOptions()
	reg, err := checks.Registration(o)
	require.NoError(t, err, "Registration(%+v)", o)
	require.Equal(t, o.ID, reg.ID, "Registration().ID")
	require.Equal(t, o.Service, reg.Name, "Registration().Name")
	require.Equal(t, o.Host, reg.Address, "Registration().Address")
	require.Equal(t, o.Port, reg.Port, "Registration().Port")

	all := append(api.AgentServiceChecks{}, reg.Checks...)
	if reg.Check != nil {
		all = append(all, reg.Check)
	}
	byID := map[string]*api.AgentServiceCheck{}
	for _, c := range all {
		byID[c.CheckID] = c
	}
	grpcCheck, ttlCheck := byID[checks.GRPCCheckID(o.ID)], byID[checks.TTLCheckID(o.ID)]
	require.NotNil(t, grpcCheck, "Registration() has no check with CheckID %q (the active gRPC check)", checks.GRPCCheckID(o.ID))
	require.NotNil(t, ttlCheck, "Registration() has no check with CheckID %q (the TTL heartbeat)", checks.TTLCheckID(o.ID))

	require.Equal(t, "127.0.0.1:9001", grpcCheck.GRPC, "gRPC check target = %q, want the instance's host:port", grpcCheck.GRPC)
	requireDuration(t, o.Interval, grpcCheck.Interval, "gRPC check Interval")
	requireDuration(t, o.Timeout, grpcCheck.Timeout, "gRPC check Timeout")
	requireDuration(t, o.TTL, ttlCheck.TTL, "TTL check TTL")
	for name, c := range map[string]*api.AgentServiceCheck{"gRPC": grpcCheck, "TTL": ttlCheck} {
		requireDuration(t, o.DeregisterAfter, c.DeregisterCriticalServiceAfter,
			name+" check DeregisterCriticalServiceAfter (without it a killed instance stays registered for ever)")
	}
}

func TestHealthRegistrationIPv6Target(t *testing.T) {
	o := validOptions()
	o.Host = "::1"
	reg, err := checks.Registration(o)
	require.NoError(t, err, "Registration(%+v)", o)
	var target string
	for _, c := range reg.Checks {
		if c.CheckID == checks.GRPCCheckID(o.ID) {
			target = c.GRPC
		}
	}
	require.Equal(t, "[::1]:9001", target, "gRPC check target for host %q port %d = %q, want [::1]:9001: an IPv6 host needs brackets, or Consul cannot tell the port from the address", o.Host, o.Port, target)
}

func requireDuration(t *testing.T, want time.Duration, got string, what string) {
	t.Helper()
	d, err := time.ParseDuration(got)
	require.NoError(t, err, "%s = %q, want a duration of %v", what, got, want)
	require.Equal(t, want, d, "%s = %q, want %v", what, got, want)
}

func TestHealthRegistrationRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*checks.Options)
	}{
		{"no service name", func(o *checks.Options) { o.Service = "" }},
		{"no instance id", func(o *checks.Options) { o.ID = "" }},
		{"no host", func(o *checks.Options) { o.Host = "" }},
		{"no port", func(o *checks.Options) { o.Port = 0 }},
		{"no interval", func(o *checks.Options) { o.Interval = 0 }},
		{"no timeout", func(o *checks.Options) { o.Timeout = 0 }},
		{"no ttl", func(o *checks.Options) { o.TTL = 0 }},
		{"no deregister-after", func(o *checks.Options) { o.DeregisterAfter = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.modify(&o)
			_, err := checks.Registration(o)
			require.ErrorIs(t, err, checks.ErrInvalidOptions, "Registration(%+v)", o)
		})
	}
}

// live is an instance registered with checks.Registration and heartbeating with checks.Heartbeat.
type live struct {
	inst      *consultest.Instance
	stopBeat  context.CancelFunc
	beatEnded chan error
}

func startLive(t *testing.T, c *api.Client, service, id string, ttl time.Duration) *live {
	t.Helper()
	return startLiveVia(t, c, c, service, id, ttl)
}

// startLiveVia registers through c and heartbeats through beatVia (a client that may reach Consul through a proxy).
func startLiveVia(t *testing.T, c, beatVia *api.Client, service, id string, ttl time.Duration) *live {
	t.Helper()
	inst := consultest.StartInstance(t, id)
	o := checks.Options{
		Service: service, ID: id, Host: inst.Addr.IP.String(), Port: inst.Addr.Port,
		Interval: time.Second, Timeout: 500 * time.Millisecond, TTL: ttl, DeregisterAfter: time.Minute,
	}
	reg, err := checks.Registration(o)
	require.NoError(t, err, "Registration(%+v)", o)
	require.NoError(t, c.Agent().ServiceRegister(reg), "register %s", id)
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(id) })

	ctx, cancel := context.WithCancel(context.Background())
	l := &live{inst: inst, stopBeat: cancel, beatEnded: make(chan error, 1)}
	go func() { l.beatEnded <- checks.Heartbeat(ctx, beatVia.Agent(), checks.TTLCheckID(id), ttl/4) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.beatEnded:
		case <-time.After(5 * time.Second):
		}
	})
	return l
}

// stopHeartbeat stops the heartbeat and requires Heartbeat to return promptly with the context's error.
func (l *live) stopHeartbeat(t *testing.T) {
	t.Helper()
	l.stopBeat()
	select {
	case err := <-l.beatEnded:
		l.beatEnded <- err
		require.ErrorIs(t, err, context.Canceled, "Heartbeat after its context was cancelled")
	case <-time.After(2 * time.Second):
		t.Fatal("Heartbeat did not return within 2s after its context was cancelled; want it to stop beating")
	}
}

// waitPassing waits until id is in the passing set of service, or fails after limit.
func waitPassing(t *testing.T, c *api.Client, service, id string, want bool, limit time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for {
		passing, err := consultest.Passing(context.Background(), c, service)
		require.NoError(t, err, "passing instances of %s", service)
		if passing[id] == want {
			return time.Since(begin)
		}
		if time.Since(begin) > limit {
			t.Fatalf("%s passing = %v after %v, want %v; its checks: %s", id, !want, limit, want, checkStates(t, c, service, id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkStates(t *testing.T, c *api.Client, service, id string) string {
	t.Helper()
	hcs, _, err := c.Health().Checks(service, nil)
	if err != nil {
		return err.Error()
	}
	out := ""
	for _, hc := range hcs {
		if hc.ServiceID == id {
			out += hc.CheckID + "=" + hc.Status + " (" + hc.Output + ") "
		}
	}
	return out
}

func TestHealthStaysPassingWhileAlive(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"orders", ce.Prefix+"1"
	const ttl = 1500 * time.Millisecond

	startLive(t, c, service, id, ttl)
	waitPassing(t, c, service, id, true, 5*time.Second)

	// Several TTLs later it must still pass: the heartbeat keeps beating.
	deadline := time.Now().Add(2 * ttl)
	for time.Now().Before(deadline) {
		passing, err := consultest.Passing(context.Background(), c, service)
		require.NoError(t, err)
		require.True(t, passing[id], "%s left the passing set while alive and heartbeating; its checks: %s", id, checkStates(t, c, service, id))
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHealthHungInstanceLeavesPassingSet: the process still answers on its port, but its own loop has stopped
// (a deadlock, a stuck worker). Only the TTL heartbeat can notice.
func TestHealthHungInstanceLeavesPassingSet(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"orders", ce.Prefix+"1"
	const ttl = time.Second

	l := startLive(t, c, service, id, ttl)
	waitPassing(t, c, service, id, true, 5*time.Second)

	l.stopHeartbeat(t)
	bound := ttl + 3*time.Second // TTL plus generous slack for a loaded machine
	took := waitPassing(t, c, service, id, false, bound)
	t.Logf("left the passing set %v after the heartbeat stopped (bound %v)", took.Round(time.Millisecond), bound)
	hcs, _, err := c.Health().Checks(service, nil)
	require.NoError(t, err)
	for _, hc := range hcs {
		if hc.CheckID == checks.TTLCheckID(id) {
			require.Equal(t, api.HealthCritical, hc.Status, "TTL check status after the heartbeat stopped")
		}
	}
}

// TestHealthKilledInstanceLeavesPassingSet simulates kill -9: the server vanishes, the heartbeat stops and nothing
// deregisters. The TTL is long here, so only the active gRPC check can notice in time. The instance stays in the
// catalog as critical until Consul reaps it after DeregisterCriticalServiceAfter (Consul's floor is one minute,
// and its reaper runs every 30 s, too slow for a test: TestHealthRegistrationDescribesBothChecks checks the setting).
func TestHealthKilledInstanceLeavesPassingSet(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"orders", ce.Prefix+"1"

	l := startLive(t, c, service, id, 30*time.Second)
	waitPassing(t, c, service, id, true, 5*time.Second)

	l.inst.Stop()
	l.stopBeat()
	bound := time.Second + 500*time.Millisecond + 3*time.Second // interval + timeout + slack, far below the 30s TTL
	took := waitPassing(t, c, service, id, false, bound)
	t.Logf("left the passing set %v after the kill (bound %v)", took.Round(time.Millisecond), bound)

	registered, err := consultest.Registered(context.Background(), c, service)
	require.NoError(t, err)
	require.Contains(t, registered, id, "a killed instance cannot deregister itself; want it still in the catalog, critical")
}

// TestHealthHeartbeatBeatsAtOnce starts a heartbeat whose period is a minute: its first beat must not wait for the
// first tick, or a freshly started instance stays out of the passing set (its TTL check starts critical) for a whole
// period, and a restart that waits for it to pass takes that long.
func TestHealthHeartbeatBeatsAtOnce(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"orders", ce.Prefix+"1"
	inst := consultest.StartInstance(t, id)
	o := checks.Options{
		Service: service, ID: id, Host: inst.Addr.IP.String(), Port: inst.Addr.Port,
		Interval: time.Second, Timeout: 500 * time.Millisecond, TTL: 3 * time.Minute, DeregisterAfter: time.Minute,
	}
	reg, err := checks.Registration(o)
	require.NoError(t, err, "Registration(%+v)", o)
	require.NoError(t, c.Agent().ServiceRegister(reg), "register %s", id)
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(id) })

	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- checks.Heartbeat(ctx, c.Agent(), checks.TTLCheckID(id), time.Minute) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ended:
		case <-time.After(2 * time.Second):
			t.Error("Heartbeat did not return within 2s after its context was cancelled; want it to stop beating")
		}
	})

	bound := time.Second + 4*time.Second // the gRPC check's first run, plus slack for a loaded machine; far below a minute
	waitPassing(t, c, service, id, true, bound)
}

// TestHealthHeartbeatSurvivesConsulErrors makes Consul fail every heartbeat for a while (the agent restarts, the
// network blips). The TTL check goes critical, as it should; when Consul answers again, the same Heartbeat must
// bring the instance back, because the process itself was healthy all along.
func TestHealthHeartbeatSurvivesConsulErrors(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	rec := consultest.NewRecorder(t, ce.Addr)
	service, id := ce.Prefix+"orders", ce.Prefix+"1"
	const ttl = time.Second

	l := startLiveVia(t, c, consultest.Client(t, rec.Addr), service, id, ttl)
	waitPassing(t, c, service, id, true, 5*time.Second)

	rec.SetDown(true) // every heartbeat now fails with 503
	waitPassing(t, c, service, id, false, ttl+3*time.Second)
	select {
	case err := <-l.beatEnded:
		l.beatEnded <- err
		t.Fatalf("Heartbeat returned %v while Consul was failing; want it to keep beating: a failed update is not fatal, the next one may get through", err)
	default:
	}

	rec.SetDown(false)
	bound := ttl + 3*time.Second // a few beat periods, plus slack for a loaded machine
	took := waitPassing(t, c, service, id, true, bound)
	t.Logf("passing again %v after Consul recovered (bound %v)", took.Round(time.Millisecond), bound)
	require.Greater(t, len(rec.Requests("/v1/agent/check/update/", time.Time{})), 0, "no heartbeat went through the client Heartbeat was given")
}
