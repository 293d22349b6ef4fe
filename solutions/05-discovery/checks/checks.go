// Package checks describes how Consul decides whether an instance is alive:
// an active gRPC health check that Consul runs against the instance, and a TTL check
// that the instance itself must keep refreshing (a heartbeat).
package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// ErrInvalidOptions reports options that cannot describe a registration.
var ErrInvalidOptions = errors.New("invalid check options")

// Options describe one instance and how it is checked.
type Options struct {
	Service string // service name in Consul
	ID      string // instance id
	Host    string // where the instance serves gRPC (and the health service)
	Port    int

	Interval time.Duration // how often Consul calls the gRPC health service
	Timeout  time.Duration // how long one gRPC health call may take
	TTL      time.Duration // how long a heartbeat stays valid
	// DeregisterAfter is how long a check may stay critical before Consul removes the instance.
	// Consul enforces at least one minute and reaps every 30 seconds.
	DeregisterAfter time.Duration
}

// GRPCCheckID and TTLCheckID name the two checks of instance id.
func GRPCCheckID(id string) string { return id + ":grpc" }
func TTLCheckID(id string) string  { return id + ":ttl" }

// Registration describes the instance with both checks.
//
// The gRPC check proves the process answers on the network, even when it is frozen or killed, because Consul
// does the work. The TTL check proves the process's own loop still runs: a deadlocked worker stops heartbeating
// while its port still answers. Both carry DeregisterCriticalServiceAfter, so an instance that was killed
// without deregistering (kill -9, a lost machine) is eventually removed instead of staying listed as critical.
func Registration(o Options) (*api.AgentServiceRegistration, error) {
	if o.Service == "" || o.ID == "" || o.Host == "" || o.Port == 0 {
		return nil, fmt.Errorf("%w: service, id, host and port are required", ErrInvalidOptions)
	}
	if o.Interval <= 0 || o.Timeout <= 0 || o.TTL <= 0 || o.DeregisterAfter <= 0 {
		return nil, fmt.Errorf("%w: interval, timeout, ttl and deregister-after must be positive", ErrInvalidOptions)
	}
	deregister := o.DeregisterAfter.String()
	return &api.AgentServiceRegistration{
		ID:      o.ID,
		Name:    o.Service,
		Address: o.Host,
		Port:    o.Port,
		Checks: api.AgentServiceChecks{
			{
				CheckID: GRPCCheckID(o.ID),
				Name:    "gRPC health",
				// host:port asks for the server's overall health (service ""), which the instance
				// flips to NOT_SERVING while it drains. JoinHostPort brackets an IPv6 host.
				GRPC:                           net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
				Interval:                       o.Interval.String(),
				Timeout:                        o.Timeout.String(),
				DeregisterCriticalServiceAfter: deregister,
			},
			{
				CheckID:                        TTLCheckID(o.ID),
				Name:                           "heartbeat",
				TTL:                            o.TTL.String(),
				DeregisterCriticalServiceAfter: deregister,
			},
		},
	}, nil
}

// Heartbeat marks the TTL check checkID passing now and then every `every`, until ctx is done.
// It returns ctx's error. A failed update is not fatal: the next beat may get through, and if none does
// the check expires, which is exactly the signal we want.
func Heartbeat(ctx context.Context, agent *api.Agent, checkID string, every time.Duration) error {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		// UpdateTTLOpts carries ctx, so a beat in flight stops when the instance does.
		_ = agent.UpdateTTLOpts(checkID, "alive", api.HealthPassing, (&api.QueryOptions{}).WithContext(ctx))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
