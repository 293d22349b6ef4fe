// Package instance runs one instance of the whoami service and keeps its Consul registration
// in step with its lifetime: the registry lists it only while it can answer.
package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
)

// Config says what to run and where to register it.
type Config struct {
	Consul  *api.Client // the local Consul agent
	Service string      // service name in Consul, shared by all instances
	ID      string      // this instance's id, unique per instance
	Addr    string      // where to listen, e.g. "127.0.0.1:0" for any free port
	// DrainDelay is how long the instance keeps serving after it has deregistered,
	// so that clients holding a slightly stale list stop sending to it before it goes away.
	DrainDelay time.Duration
	// Listen opens the listener; nil means net.Listen. Tests wrap it to watch the order of events.
	Listen func(network, address string) (net.Listener, error)
	// Registration returns what to register in Consul, given the address the listener got (Addr may ask for
	// port 0, so only then is the port known). This is where health checks come in: pass a function that calls
	// checks.Registration. Its ID must be ID. nil registers the bare service (ID, Service, address) with no
	// check at all, so nothing would notice an instance that dies without deregistering (kill -9).
	Registration func(addr *net.TCPAddr) (*api.AgentServiceRegistration, error)
}

// registration is what Run registers for addr.
func (c Config) registration(addr *net.TCPAddr) (*api.AgentServiceRegistration, error) {
	if c.Registration == nil {
		return &api.AgentServiceRegistration{ID: c.ID, Name: c.Service, Address: addr.IP.String(), Port: addr.Port}, nil
	}
	reg, err := c.Registration(addr)
	if err != nil {
		return nil, fmt.Errorf("registration of %s: %w", c.ID, err)
	}
	if reg == nil || reg.ID != c.ID {
		return nil, fmt.Errorf("registration of %s: Config.Registration must describe instance %q", c.ID, c.ID)
	}
	return reg, nil
}

func (c Config) listen() func(network, address string) (net.Listener, error) {
	if c.Listen != nil {
		return c.Listen
	}
	return net.Listen
}

// registryTimeout bounds each call to Consul made under a context that shutdown does not cancel.
const registryTimeout = 5 * time.Second

// Run serves whoami until ctx is done, and returns nil after a clean shutdown.
//
// Startup: listen -> serve -> register. Registering last means that whoever reads the registry
// can connect at once, and it lets us register the port we actually got (Addr may say port 0).
// Shutdown: deregister -> wait DrainDelay -> stop. Consul forgets the instance first,
// clients notice within the delay, and only then does the listener close.
func Run(ctx context.Context, cfg Config) error {
	lis, err := cfg.listen()("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := whoami.NewServer(cfg.ID)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	// Register under a context that shutdown does not cut: a request cancelled half-way may still have
	// reached Consul, and then nothing would deregister it. Finished, it is removed on the normal path below.
	rctx, cancelReg := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	err = register(rctx, cfg, lis.Addr().(*net.TCPAddr))
	cancelReg()
	if err != nil {
		// Nothing is registered, but the server runs: stop it and wait until Serve has returned,
		// which closes the listener too, so the port is free when Run returns.
		srv.Stop()
		<-served
		return err
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		// The server died on its own: leave the registry anyway, then report why.
	}

	// ctx is done, so deregister under a context of its own that still carries ctx's values.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	defer cancel()
	deregErr := cfg.Consul.Agent().ServiceDeregisterOpts(cfg.ID, (&api.QueryOptions{}).WithContext(dctx))
	if deregErr != nil {
		deregErr = fmt.Errorf("deregister %s: %w", cfg.ID, deregErr)
	}
	if serveErr != nil {
		return errors.Join(fmt.Errorf("serve: %w", serveErr), deregErr)
	}

	time.Sleep(cfg.DrainDelay)
	// GracefulStop closes the listener, then waits for calls in flight to finish.
	srv.GracefulStop()
	return deregErr
}

func register(ctx context.Context, cfg Config, addr *net.TCPAddr) error {
	reg, err := cfg.registration(addr)
	if err != nil {
		return err
	}
	opts := api.ServiceRegisterOpts{}.WithContext(ctx)
	if err := cfg.Consul.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return fmt.Errorf("register %s at %s: %w", cfg.ID, addr, err)
	}
	return nil
}
