// Package etcdreg uses etcd as a service registry and a config store: an instance registers its address under
// a lease that it keeps alive, clients resolve the service through gRPC's etcd naming resolver, and a watch
// applies a config key's value and every later change.
package etcdreg

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// ErrInvalidConfig wraps every error about a Config.
var ErrInvalidConfig = errors.New("etcdreg: invalid config")

// Config says what Register puts into etcd.
type Config struct {
	Client *clientv3.Client
	// Service is the key prefix of the service, e.g. "services/whoami"; clients dial Target(Service).
	Service string
	// Addr is the host:port clients dial.
	Addr string
	// TTL is the lease's time to live: how long a killed instance stays registered. etcd counts leases in
	// whole seconds, so it must be a whole number of seconds, at least one.
	TTL time.Duration
	// RetryAfter is the pause between two attempts to register again after the lease was lost. Zero means 200ms.
	RetryAfter time.Duration
}

// Key returns the key the instance is registered under: <Service>/<Addr>.
func (c Config) Key() string { return c.Service + "/" + c.Addr }

func (c Config) validate() error {
	switch {
	case c.Client == nil:
		return fmt.Errorf("%w: no Client", ErrInvalidConfig)
	case c.Service == "" || c.Addr == "":
		return fmt.Errorf("%w: Service and Addr are required", ErrInvalidConfig)
	case c.TTL < time.Second || c.TTL%time.Second != 0:
		return fmt.Errorf("%w: TTL %v is not a whole number of seconds >= 1s", ErrInvalidConfig, c.TTL)
	}
	return nil
}

func (c Config) ttlSeconds() int64 { return int64(c.TTL / time.Second) }

func (c Config) retryAfter() time.Duration {
	if c.RetryAfter > 0 {
		return c.RetryAfter
	}
	return 200 * time.Millisecond
}

// Target returns the gRPC target that resolves service through etcd: etcd:///<service>.
func Target(service string) string { return "etcd:///" + service }

// errTODO is what the unwritten parts return.
var errTODO = errors.New("not implemented yet: TODO(05-etcd)")

// Register puts cfg.Addr under cfg.Key() with a lease of cfg.TTL and returns once it is registered. Until ctx
// is done it keeps the lease alive, and registers again under a new lease (after cfg.retryAfter()) when the
// lease is lost. When ctx is done it revokes the lease, so the instance leaves at once, and closes the returned
// channel.
func Register(ctx context.Context, cfg Config) (<-chan struct{}, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// TODO(05-etcd): grant a lease of cfg.ttlSeconds() and put the endpoint with it through
	// endpoints.NewManager(cfg.Client, cfg.Service) (AddEndpoint, clientv3.WithLease). Then, in a goroutine that
	// closes the returned channel when it ends: KeepAlive and read its channel; when it closes, revoke if ctx is
	// done, or register again if the lease was lost.
	return nil, errTODO
}

// WatchConfig calls apply with key's current value (apply(value, true), or apply("", false) when key does
// not exist) before it returns. Then, from one goroutine and in order, it calls apply for every later change
// (a deletion is apply("", false)) until ctx is done, and closes the returned channel when that goroutine ends.
// After a compaction removed revisions it has not seen, it reads the current value again and goes on from there.
func WatchConfig(ctx context.Context, cli *clientv3.Client, key string, apply func(value string, ok bool)) (<-chan struct{}, error) {
	// TODO(05-etcd): Get the key and apply what you find, then Watch it from the revision after that read's
	// (clientv3.WithRev) in a goroutine.
	return nil, errTODO
}

// Dial returns a client of the instances registered under service, resolved through etcd and kept current
// by a watch, with calls spread over them round robin. opts come after the defaults.
func Dial(cli *clientv3.Client, service string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	// TODO(05-etcd): grpc.NewClient(Target(service), ...) with the resolver from
	// go.etcd.io/etcd/client/v3/naming/resolver, insecure credentials and the round_robin policy.
	return nil, errTODO
}
