// Package discovery is chapter 05, finished, for the capstone: a gRPC name resolver backed by Consul (a
// target "consul:///orders" resolves to the passing instances of service "orders", following Consul's changes through blocking queries), and Serve, which
// runs a gRPC server registered in Consul with a health check and drains it before it stops.
//
// It is a snapshot of the reference solutions of 05-resolver, 05-health and 05-register: a learner's chapter 05
// may still hold TODOs, so the capstone cannot import it. Nothing here is an exercise.
package discovery

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
)

// Scheme is the target scheme this resolver serves.
const Scheme = "consul"

// Target returns the gRPC target that names service.
func Target(service string) string { return Scheme + ":///" + service }

// Builder builds resolvers that ask Consul.
type Builder struct {
	Client *api.Client
	// WaitTime bounds one blocking query; Consul answers at once when the list changes. Zero means 30s.
	WaitTime time.Duration
	// RetryAfter is the pause after a failed query, so a dead Consul is not hammered. Zero means 200ms.
	RetryAfter time.Duration
}

// Scheme implements resolver.Builder.
func (b *Builder) Scheme() string { return Scheme }

// Build starts watching the service the target names, until Close.
func (b *Builder) Build(target resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	service := strings.TrimPrefix(target.Endpoint(), "/")
	if service == "" {
		return nil, fmt.Errorf("consul resolver: target %q names no service", target.URL.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &consulResolver{
		builder: b, service: service, cc: cc, cancel: cancel, done: make(chan struct{}),
	}
	go r.watch(ctx)
	return r, nil
}

type consulResolver struct {
	builder *Builder
	service string
	cc      resolver.ClientConn
	cancel  context.CancelFunc
	done    chan struct{}
}

// ResolveNow is a no-op: the blocking query already reports every change as it happens.
func (r *consulResolver) ResolveNow(resolver.ResolveNowOptions) {}

// Close stops the watch and waits for it, so no update reaches a closed ClientConn.
func (r *consulResolver) Close() {
	r.cancel()
	<-r.done
}

// watch runs one blocking query after another. Each asks Consul to answer only when the passing set has
// moved past the index we last saw (or after WaitTime), so an idle service costs one open request,
// not a poll every few milliseconds.
func (r *consulResolver) watch(ctx context.Context) {
	defer close(r.done)
	wait, retry := r.builder.WaitTime, r.builder.RetryAfter
	if wait <= 0 {
		wait = 30 * time.Second
	}
	if retry <= 0 {
		retry = 200 * time.Millisecond
	}
	var index uint64
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: wait}).WithContext(ctx)
		entries, meta, err := r.builder.Client.Health().Service(r.service, "", true, q)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// Consul is unreachable. Keep the last list: the instances themselves are probably fine,
			// and gRPC keeps its connections to them. ReportError tells gRPC without clearing the list.
			r.cc.ReportError(fmt.Errorf("consul resolver: query %s: %w", r.service, err))
			// The Consul we reach next may be a restarted one whose index starts low again: waiting for
			// our old index would block for a whole WaitTime. Ask afresh.
			index = 0
			if !sleep(ctx, retry) {
				return
			}
			continue
		}
		// The index only moves forward unless Consul lost its state; then start again from zero.
		if meta.LastIndex < index {
			index = 0
		} else {
			index = meta.LastIndex
		}
		// An empty list is an answer too: no instance passes. The balancer then fails calls fast,
		// which is better than sending them to instances Consul knows are unhealthy.
		_ = r.cc.UpdateState(resolver.State{Endpoints: endpoints(entries)})
	}
}

// endpoints turns Consul's passing entries into gRPC endpoints, one per instance.
func endpoints(entries []*api.ServiceEntry) []resolver.Endpoint {
	out := make([]resolver.Endpoint, 0, len(entries))
	for _, e := range entries {
		host := e.Service.Address
		if host == "" { // a service registered without an address uses its node's
			host = e.Node.Address
		}
		addr := net.JoinHostPort(host, strconv.Itoa(e.Service.Port))
		out = append(out, resolver.Endpoint{Addresses: []resolver.Address{{Addr: addr}}})
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// roundRobin spreads calls over every resolved instance. gRPC's default, pick_first, would send every call to one.
const roundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// NewClient returns a client connection to service through Consul, balanced round-robin over its passing instances.
func NewClient(b *Builder, service string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithResolvers(b),
		grpc.WithDefaultServiceConfig(roundRobin),
	}, opts...)
	conn, err := grpc.NewClient(Target(service), opts...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", service, err)
	}
	return conn, nil
}
