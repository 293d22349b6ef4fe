package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// Instance says what one service instance serves and how it is registered.
type Instance struct {
	Consul  *api.Client
	Service string // the service's name in Consul, shared by all its instances
	ID      string // this instance's id
	// CheckInterval is how often Consul calls the instance's gRPC health service; zero means 2s.
	CheckInterval time.Duration
	// DrainDelay is how long the instance keeps serving after it left Consul, so that clients holding a
	// slightly stale list stop sending to it first; zero means 300ms.
	DrainDelay time.Duration
}

// registryTimeout bounds each call to Consul made under a context that shutdown does not cancel.
const registryTimeout = 5 * time.Second

// Serve serves srv on lis until ctx is done, registered in Consul as in.Service while it can answer. It adds the
// gRPC health service (which Consul checks) and reflection (for grpcurl) to srv. Startup is
// serve -> register, shutdown is NOT_SERVING -> deregister -> drain -> GracefulStop (chapter 05's order).
// onUp, if not nil, is called once the instance is registered. It returns nil after a clean shutdown.
func Serve(ctx context.Context, in Instance, srv *grpc.Server, lis net.Listener, onUp func()) error {
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	addr := lis.Addr().(*net.TCPAddr)
	interval, drain := in.CheckInterval, in.DrainDelay
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if drain <= 0 {
		drain = 300 * time.Millisecond
	}
	reg := &api.AgentServiceRegistration{
		ID: in.ID, Name: in.Service, Address: addr.IP.String(), Port: addr.Port,
		Check: &api.AgentServiceCheck{
			CheckID: in.ID + ":grpc",
			Name:    "gRPC health",
			GRPC:    net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port)),
			// Registered passing: the server already serves, so callers need not wait for the first check.
			Status:                         api.HealthPassing,
			Interval:                       interval.String(),
			Timeout:                        "1s",
			DeregisterCriticalServiceAfter: "1m", // a killed instance (kill -9) leaves the registry by itself
		},
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	err := in.Consul.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(rctx))
	cancel()
	if err != nil {
		srv.Stop()
		<-served
		return fmt.Errorf("register %s at %s: %w", in.ID, addr, err)
	}
	if onUp != nil {
		onUp()
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	hs.Shutdown() // NOT_SERVING: a health check that runs now already fails
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	defer cancel()
	deregErr := in.Consul.Agent().ServiceDeregisterOpts(in.ID, (&api.QueryOptions{}).WithContext(dctx))
	if deregErr != nil {
		deregErr = fmt.Errorf("deregister %s: %w", in.ID, deregErr)
	}
	if serveErr != nil {
		return errors.Join(fmt.Errorf("serve %s: %w", in.ID, serveErr), deregErr)
	}
	time.Sleep(drain)
	srv.GracefulStop()
	return deregErr
}
