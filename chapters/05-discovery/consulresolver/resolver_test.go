package consulresolver_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gomicrolab/microlab/chapters/05-discovery/consulresolver"
	"github.com/gomicrolab/microlab/chapters/05-discovery/internal/consultest"
	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// waitTime is long on purpose: a blocking query answers as soon as something changes, so nothing in these
// tests should ever wait for it to run out.
const waitTime = 20 * time.Second

func dial(t *testing.T, c *api.Client, service string) *grpc.ClientConn {
	t.Helper()
	b := &consulresolver.Builder{Client: c, WaitTime: waitTime, RetryAfter: 100 * time.Millisecond}
	conn, err := consulresolver.NewClient(b, service, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err, "NewClient(%s)", service)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// spread makes n calls and counts which instance answered each. Any failed call fails the test; when says when.
func spread(t *testing.T, conn *grpc.ClientConn, n int, when string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		id, err := whoami.Who(ctx, conn)
		cancel()
		require.NoError(t, err, "Who(%s) call %d of %d %s; want an answer", conn.Target(), i+1, n, when)
		got[id]++
	}
	return got
}

// eventually repeats rounds of 20 calls until ok accepts a round's answers, and fails with the last round after limit.
// A round with a failed call does not count; while the list is changing, a few calls may fail.
func eventually(t *testing.T, conn *grpc.ClientConn, limit time.Duration, want string, ok func(map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got, err := tryRound(conn, 20)
		if err == nil && ok(got) {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("after %v, calls through %s still fail: %v; want %s", limit, conn.Target(), err, want)
			}
			t.Fatalf("after %v, 20 calls through %s were answered by %v; want %s", limit, conn.Target(), got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tryRound(conn *grpc.ClientConn, n int) (map[string]int, error) {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		id, err := whoami.Who(ctx, conn)
		cancel()
		if err != nil {
			return got, err
		}
		got[id]++
	}
	return got, nil
}

func answeredBy(ids ...string) func(map[string]int) bool {
	return func(got map[string]int) bool {
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}
}

func notAnsweredBy(id string) func(map[string]int) bool {
	return func(got map[string]int) bool { return got[id] == 0 }
}

func startRegistered(t *testing.T, c *api.Client, service string, ids ...string) map[string]*consultest.Instance {
	t.Helper()
	out := map[string]*consultest.Instance{}
	for _, id := range ids {
		out[id] = consultest.StartInstance(t, id)
		consultest.Register(t, c, service, out[id])
	}
	return out
}

func TestResolverBalancesRoundRobin(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service := ce.Prefix + "whoami"
	ids := []string{ce.Prefix + "a", ce.Prefix + "b", ce.Prefix + "c"}
	startRegistered(t, c, service, ids...)

	conn := dial(t, c, service)
	eventually(t, conn, 5*time.Second, "every one of "+fmt.Sprint(ids)+" (round-robin, not pick_first)", answeredBy(ids...))

	got := spread(t, conn, 30, "with three passing instances")
	for _, id := range ids {
		require.GreaterOrEqual(t, got[id], 8, "30 calls over 3 instances gave %v; want about 10 each (round-robin)", got)
	}
}

func TestResolverFollowsRegistryChanges(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service := ce.Prefix + "whoami"
	a, b, cc := ce.Prefix+"a", ce.Prefix+"b", ce.Prefix+"c"
	startRegistered(t, c, service, a, b)

	conn := dial(t, c, service)
	eventually(t, conn, 5*time.Second, fmt.Sprintf("both %s and %s", a, b), answeredBy(a, b))

	parent := t // instances must outlive the subtest that starts them
	t.Run("a new instance joins without a new connection", func(t *testing.T) {
		startRegistered(parent, c, service, cc)
		eventually(t, conn, 3*time.Second, cc+" among them", answeredBy(a, b, cc))
	})
	t.Run("an instance whose check fails leaves, though its server still answers", func(t *testing.T) {
		require.NoError(t, c.Agent().UpdateTTL(consultest.TTLCheckID(b), "failing on purpose", api.HealthCritical))
		eventually(t, conn, 3*time.Second, "no call to the critical "+b+" (passing instances only)", notAnsweredBy(b))
	})
	t.Run("a deregistered instance leaves", func(t *testing.T) {
		require.NoError(t, c.Agent().ServiceDeregister(a))
		eventually(t, conn, 3*time.Second, "no call to the deregistered "+a, notAnsweredBy(a))
	})
	t.Run("after no instance passed for a while, a new one is found", func(t *testing.T) {
		// An empty list is a valid answer (round_robin's UpdateState reports it as an error): the watch must go on.
		require.NoError(t, c.Agent().ServiceDeregister(b))
		require.NoError(t, c.Agent().ServiceDeregister(cc))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for {
			callCtx, callCancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := whoami.Who(callCtx, conn)
			callCancel()
			if err != nil {
				break // the resolver has pushed the empty list
			}
			require.NoError(t, ctx.Err(), "calls through %s still answered 3s after every instance left Consul; want the empty list pushed", conn.Target())
		}
		d := ce.Prefix + "d"
		startRegistered(parent, c, service, d)
		eventually(t, conn, 3*time.Second, d+" after the service had no passing instance (keep watching after UpdateState returns an error)", answeredBy(d))
	})
}

// TestResolverFollowsIndexGoingBackwards lowers the index Consul answers with, with no error in between, as after a
// cluster is rebuilt or restored from a snapshot. Waiting for the old, higher index would hold every later query for
// a whole WaitTime (20s here): the resolver must start again from zero when the index goes backwards.
func TestResolverFollowsIndexGoingBackwards(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	rec := consultest.NewRecorder(t, ce.Addr)
	rec.SetIndexOffset(1 << 40)
	service := ce.Prefix + "whoami"
	a, b, cc := ce.Prefix+"a", ce.Prefix+"b", ce.Prefix+"c"
	startRegistered(t, c, service, a)

	conn := dial(t, consultest.Client(t, rec.Addr), service)
	eventually(t, conn, 5*time.Second, a, answeredBy(a))
	rec.WaitBlocking(t, "/v1/health/service/"+service, time.Time{}, 2*time.Second) // it waits on the high index

	rec.SetIndexOffset(0) // the next answer carries an index far below the last one
	startRegistered(t, c, service, b)
	eventually(t, conn, 3*time.Second, b+" (the pending query answers the change)", answeredBy(a, b))
	startRegistered(t, c, service, cc)
	eventually(t, conn, 3*time.Second, cc+" after Consul's index went backwards (reset the index to 0 when it does)", answeredBy(a, b, cc))
}

// TestResolverDialsTheServiceAddress registers an instance on 127.0.0.2, a loopback address that is not the node's
// (127.0.0.1): the resolver must dial the address the service registered, as it differs from the node's in
// containers and on hosts with several interfaces.
func TestResolverDialsTheServiceAddress(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	service, id := ce.Prefix+"whoami", ce.Prefix+"a"
	consultest.Register(t, c, service, consultest.StartInstanceOn(t, id, "127.0.0.2"))

	conn := dial(t, c, service)
	eventually(t, conn, 5*time.Second, id+" at 127.0.0.2, the address its registration names (Service.Address, not Node.Address)", answeredBy(id))
}

// TestResolverUsesBlockingQueries watches the resolver's traffic to Consul through a recording proxy.
func TestResolverUsesBlockingQueries(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	rec := consultest.NewRecorder(t, ce.Addr)
	service := ce.Prefix + "whoami"
	a, b := ce.Prefix+"a", ce.Prefix+"b"
	startRegistered(t, c, service, a)

	conn := dial(t, consultest.Client(t, rec.Addr), service)
	eventually(t, conn, 5*time.Second, a, answeredBy(a))

	quietFrom := time.Now()
	time.Sleep(1500 * time.Millisecond)
	path := "/v1/health/service/" + service
	reqs := rec.Requests(path, quietFrom)
	require.LessOrEqual(t, len(reqs), 2, "%d queries to %s in 1.5s while nothing changed; want a blocking query (WaitIndex, long WaitTime), not polling", len(reqs), path)
	for _, r := range rec.Requests(path, time.Time{})[1:] {
		require.NotZero(t, r.Index(), "a query after the first asked %s?%s; want index=<last X-Consul-Index> (WaitIndex)", r.Path, r.Query.Encode())
	}

	// A blocking query answers at once when the service changes, long before WaitTime.
	startRegistered(t, c, service, b)
	eventually(t, conn, 2*time.Second, b+" soon after it registered", answeredBy(a, b))

	// Closing the connection closes the resolver, which must end its pending query.
	closeStarted := time.Now()
	require.NoError(t, conn.Close())
	require.Less(t, time.Since(closeStarted), time.Second, "conn.Close() took %v; want the resolver's Close to cancel its pending query (QueryOptions.WithContext), not wait for it", time.Since(closeStarted))
	deadline := time.Now().Add(time.Second)
	for rec.InFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Zero(t, rec.InFlight(), "a query to Consul is still open 1s after the connection closed; want Close to cancel it (QueryOptions.WithContext)")
}

// TestResolverZeroBuilderUsesDefaults dials with a Builder that sets only Client: its blocking queries must
// ask for the documented default WaitTime, 30s, not leave it to Consul (which would wait 5 minutes).
func TestResolverZeroBuilderUsesDefaults(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	rec := consultest.NewRecorder(t, ce.Addr)
	service := ce.Prefix + "whoami"
	a := ce.Prefix + "a"
	startRegistered(t, c, service, a)

	b := &consulresolver.Builder{Client: consultest.Client(t, rec.Addr)}
	conn, err := consulresolver.NewClient(b, service, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err, "NewClient(%s) with a zero Builder", service)
	t.Cleanup(func() { _ = conn.Close() })
	eventually(t, conn, 5*time.Second, a, answeredBy(a))

	path := "/v1/health/service/" + service
	deadline := time.Now().Add(2 * time.Second)
	for len(rec.Requests(path, time.Time{})) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	reqs := rec.Requests(path, time.Time{})
	require.GreaterOrEqual(t, len(reqs), 2, "%d queries to %s; want a blocking query after the first answer", len(reqs), path)
	for _, r := range reqs[1:] {
		require.Equal(t, 30*time.Second, r.Wait(), "a blocking query with Builder.WaitTime = 0 asked %s?%s; want wait=30s (zero means 30s)", r.Path, r.Query.Encode())
	}
}

// TestResolverKeepsListWhileConsulDown stops Consul mid-run. The instances are fine, so calls must keep working
// on the last list; when Consul is back (empty, as a dev agent restarts) the resolver follows it again.
func TestResolverKeepsListWhileConsulDown(t *testing.T) {
	t.Parallel()
	own := infra.OwnConsul(t)
	c := consultest.Client(t, own.Endpoint.Addr)
	service := own.Endpoint.Prefix + "whoami"
	a, b, cc := own.Endpoint.Prefix+"a", own.Endpoint.Prefix+"b", own.Endpoint.Prefix+"c"
	insts := startRegistered(t, c, service, a, b)
	// Raise the index of this service's health query well above what the restarted agent will reach, so a
	// resolver that keeps waiting for its old index after the restart would wait a whole WaitTime. Only changes
	// to the service itself move that index (KV writes would not), so a dummy instance comes and goes.
	dummy := own.Endpoint.Prefix + "bump"
	for i := 0; i < 20; i++ {
		require.NoError(t, c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: dummy, Name: service, Address: "127.0.0.1", Port: 1}))
		require.NoError(t, c.Agent().ServiceDeregister(dummy))
	}

	conn := dial(t, c, service)
	eventually(t, conn, 5*time.Second, fmt.Sprintf("both %s and %s", a, b), answeredBy(a, b))

	own.Stop(t)
	until := time.Now().Add(2 * time.Second)
	seen := map[string]int{}
	for time.Now().Before(until) {
		for id, n := range spread(t, conn, 10, "while Consul is down (keep the last list)") {
			seen[id] += n
		}
	}
	require.Greater(t, seen[a], 0, "with Consul down, calls reached %v; want both instances still used", seen)
	require.Greater(t, seen[b], 0, "with Consul down, calls reached %v; want both instances still used", seen)

	own.Start(t)
	for _, id := range []string{a, b} {
		consultest.Register(t, c, service, insts[id])
	}
	startRegistered(t, c, service, cc)
	eventually(t, conn, 5*time.Second, cc+" after Consul came back (ask afresh after an error: the new agent's index starts low)", answeredBy(cc))
}

// TestResolverBacksOffWhileConsulDown makes every query fail for a second and counts the queries: a resolver must
// pause RetryAfter between failed queries, or every client in the fleet hammers Consul just when it struggles.
func TestResolverBacksOffWhileConsulDown(t *testing.T) {
	t.Parallel()
	ce := infra.Consul(t)
	c := consultest.Client(t, ce.Addr)
	rec := consultest.NewRecorder(t, ce.Addr)
	service := ce.Prefix + "whoami"
	a, b := ce.Prefix+"a", ce.Prefix+"b"
	startRegistered(t, c, service, a)

	const retryAfter = 100 * time.Millisecond
	bld := &consulresolver.Builder{Client: consultest.Client(t, rec.Addr), WaitTime: waitTime, RetryAfter: retryAfter}
	conn, err := consulresolver.NewClient(bld, service, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err, "NewClient(%s)", service)
	t.Cleanup(func() { _ = conn.Close() })
	eventually(t, conn, 5*time.Second, a, answeredBy(a))

	path := "/v1/health/service/" + service
	rec.SetDown(true) // the pending blocking query fails, and so does every new one
	downFrom := time.Now()
	time.Sleep(time.Second)
	failed := len(rec.Requests(path, downFrom))
	downFor := time.Since(downFrom)
	// One query per RetryAfter would be 10 in 1s; allow more than twice that, and a first immediate retry.
	limit := int(2*downFor/retryAfter) + 2
	require.LessOrEqual(t, failed, limit, "%d queries to %s in %v while Consul was failing, with RetryAfter = %v; want a pause of RetryAfter after every failed query, not a retry loop that hammers a struggling Consul", failed, path, downFor.Round(time.Millisecond), retryAfter)
	require.Greater(t, failed, 0, "no query to %s while Consul was failing; want the resolver to keep asking (after a pause)", path)
	spread(t, conn, 10, "while Consul is failing (keep the last list)")

	rec.SetDown(false)
	startRegistered(t, c, service, b)
	eventually(t, conn, 5*time.Second, b+" after Consul answered again", answeredBy(a, b))
}
