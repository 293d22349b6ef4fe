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
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	"go.etcd.io/etcd/client/v3/naming/resolver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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

// revokeTimeout bounds the revoke on the way out.
const revokeTimeout = 5 * time.Second

// Register puts cfg.Addr under cfg.Key() with a lease of cfg.TTL and returns once it is registered. Until ctx
// is done it keeps the lease alive, and registers again under a new lease when the lease is lost. When ctx is
// done it revokes the lease, so the instance leaves at once, and closes the returned channel.
func Register(ctx context.Context, cfg Config) (<-chan struct{}, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	em, err := endpoints.NewManager(cfg.Client, cfg.Service)
	if err != nil {
		return nil, fmt.Errorf("etcdreg: endpoint manager: %w", err)
	}
	lease, err := putWithLease(ctx, cfg, em)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			// KeepAlive renews the lease every TTL/3 until ctx is done. Its channel must be read: each
			// response is one renewal, and the channel closes when the lease is gone (expired during a
			// partition, revoked by an operator) or ctx is done.
			if ch, err := cfg.Client.KeepAlive(ctx, lease); err == nil {
				for range ch {
				}
			}
			if ctx.Err() != nil {
				// ctx is cancelled already: revoke under a context of its own, or the revoke never leaves.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
				_, _ = cfg.Client.Revoke(rctx, lease)
				cancel()
				return
			}
			// The lease is lost and the key with it: register again, or this healthy instance stays invisible.
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(cfg.retryAfter()):
				}
				if lease, err = putWithLease(ctx, cfg, em); err == nil {
					break
				}
			}
		}
	}()
	return done, nil
}

// putWithLease grants a lease of cfg.TTL and puts the endpoint under it.
func putWithLease(ctx context.Context, cfg Config, em endpoints.Manager) (clientv3.LeaseID, error) {
	g, err := cfg.Client.Grant(ctx, cfg.ttlSeconds())
	if err != nil {
		return 0, fmt.Errorf("etcdreg: grant a %v lease: %w", cfg.TTL, err)
	}
	// With the lease attached, the key dies with the lease: a killed instance leaves after TTL.
	if err := em.AddEndpoint(ctx, cfg.Key(), endpoints.Endpoint{Addr: cfg.Addr}, clientv3.WithLease(g.ID)); err != nil {
		return 0, fmt.Errorf("etcdreg: put %s: %w", cfg.Key(), err)
	}
	return g.ID, nil
}

// WatchConfig calls apply with key's current value (apply(value, true), or apply("", false) when key does
// not exist) before it returns. Then, from one goroutine and in order, it calls apply for every later change
// (a deletion is apply("", false)) until ctx is done, and closes the returned channel when that goroutine ends.
// After a compaction removed revisions it has not seen, it reads the current value again and goes on from there.
func WatchConfig(ctx context.Context, cli *clientv3.Client, key string, apply func(value string, ok bool)) (<-chan struct{}, error) {
	rev, err := getAndApply(ctx, cli, key, apply)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			// Start right after the revision of the read: nothing written in between is lost, nothing is
			// applied twice.
			for wr := range cli.Watch(ctx, key, clientv3.WithRev(rev+1)) {
				if wr.CompactRevision != 0 {
					continue // the revisions we need are gone; the channel closes next
				}
				for _, ev := range wr.Events {
					if ev.Type == clientv3.EventTypeDelete {
						apply("", false)
					} else {
						apply(string(ev.Kv.Value), true)
					}
					rev = ev.Kv.ModRevision
				}
			}
			if ctx.Err() != nil {
				return
			}
			// Compacted (or the watch failed): read the current value and watch from its revision.
			for {
				if rev, err = getAndApply(ctx, cli, key, apply); err == nil || ctx.Err() != nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	return done, nil
}

// getAndApply reads key, applies what it finds and returns the revision of the read.
func getAndApply(ctx context.Context, cli *clientv3.Client, key string, apply func(string, bool)) (int64, error) {
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("etcdreg: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		apply("", false)
	} else {
		apply(string(resp.Kvs[0].Value), true)
	}
	return resp.Header.Revision, nil
}

// Dial returns a client of the instances registered under service, resolved through etcd and kept current
// by a watch, with calls spread over them round robin. opts come after the defaults.
func Dial(cli *clientv3.Client, service string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	b, err := resolver.NewBuilder(cli)
	if err != nil {
		return nil, fmt.Errorf("etcdreg: resolver: %w", err)
	}
	// gRPC's default policy, pick_first, sends every call to one instance.
	defaults := []grpc.DialOption{
		grpc.WithResolvers(b),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`),
	}
	return grpc.NewClient(Target(service), append(defaults, opts...)...)
}
