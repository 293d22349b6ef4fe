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

// Run serves whoami until ctx is done, and returns nil after a clean shutdown.
// The registry must list the instance only while it can answer.
func Run(ctx context.Context, cfg Config) error {
	// TODO(05-register): listen with cfg.listen(), serve whoami.NewServer(cfg.ID) in a goroutine, and only then
	// register cfg.registration(addr) for the address the listener got (cfg.Consul.Agent().ServiceRegisterOpts),
	// checks included. When ctx is done:
	// deregister first, keep serving for cfg.DrainDelay, then GracefulStop. By then ctx is already cancelled, so
	// deregister with a fresh bounded context (context.WithTimeout(context.WithoutCancel(ctx), ...)). Register
	// under such a context too: a registration that ctx cut off half-way may still reach Consul, and then nothing
	// would deregister it; it must never be left behind.
	// Every way out cleans up: if registering fails, stop the server and wait until Serve has returned (then the
	// listener is closed and the port free); if the server stops on its own (Serve returns an error), deregister
	// before you return that error.
	return errors.New("TODO(05-register): Run does not listen, serve or register yet")
}
