// Package checks describes how Consul decides whether an instance is alive:
// an active gRPC health check that Consul runs against the instance, and a TTL check
// that the instance itself must keep refreshing (a heartbeat).
package checks

import (
	"context"
	"errors"
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
func Registration(o Options) (*api.AgentServiceRegistration, error) {
	// TODO(05-health): reject incomplete options with an error that wraps ErrInvalidOptions (Service, ID, Host
	// and Port are required; Interval, Timeout, TTL and DeregisterAfter must be positive), then return a
	// registration whose Checks hold an active gRPC check (CheckID GRPCCheckID, target host:port, Interval,
	// Timeout) and a TTL check (CheckID TTLCheckID), both with DeregisterCriticalServiceAfter.
	return nil, errors.New("TODO(05-health): Registration does not describe the instance or its checks yet")
}

// Heartbeat marks the TTL check checkID passing now and then every `every`, until ctx is done.
// It returns ctx's error.
func Heartbeat(ctx context.Context, agent *api.Agent, checkID string, every time.Duration) error {
	// TODO(05-health): call agent.UpdateTTLOpts(checkID, ..., api.HealthPassing, ...) on a ticker until ctx is done.
	return errors.New("TODO(05-health): Heartbeat does not beat yet")
}
