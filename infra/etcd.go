package infra

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdEndpoint is an etcd namespace on a shared server: put keys (services, config, leases' keys) under Prefix
// only. Another test's keys live under another prefix, so watches and range reads over Prefix see this test's keys
// alone.
type EtcdEndpoint struct {
	Endpoints []string // host:port of the client URLs on loopback, for clientv3.Config.Endpoints
	Prefix    string   // unique per call, "lab-<random>/" (no leading "/": gRPC's etcd resolver strips it from targets)
}

// Etcd returns a key prefix of its own on a shared etcd server (v3 API). Keys under it are deleted at cleanup;
// leases a test granted and did not revoke expire with their TTL.
func Etcd(t testing.TB) EtcdEndpoint {
	t.Helper()
	return etcdNamespace(t, need(t, EtcdService))
}

// EnvEtcdEndpoints (LAB_ETCD_ENDPOINTS) names a running etcd for the env provider: comma-separated host:port
// client endpoints (http:// URLs are accepted too).
const EnvEtcdEndpoints = "LAB_ETCD_ENDPOINTS"

// etcdEndpoints returns the client endpoints of inst.
func etcdEndpoints(inst *Instance) []string {
	if len(inst.Brokers) > 0 {
		return inst.Brokers
	}
	return []string{inst.Addr}
}

// parseEtcdEnv reads LAB_ETCD_ENDPOINTS into host:port endpoints.
func parseEtcdEnv(value string) ([]string, error) {
	var eps []string
	for _, e := range strings.Split(value, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("%s: endpoint %q is neither host:port nor http://host:port", EnvEtcdEndpoints, e)
			}
			e = u.Host
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("%s lists no endpoint", EnvEtcdEndpoints)
	}
	return eps, nil
}

// newEtcdClient connects to endpoints without logging (a probe's connection errors are reported by its caller).
func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// etcdVersion asks the first endpoint for its status: a server that answers it serves the v3 API that
// clientv3 speaks (gRPC), whatever its version.
func etcdVersion(ctx context.Context, endpoints []string) (string, error) {
	c, err := newEtcdClient(endpoints)
	if err != nil {
		return "", fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	defer c.Close()
	st, err := c.Status(ctx, endpoints[0])
	if err != nil {
		return "", fmt.Errorf("etcd status at %s: %w", endpoints[0], err)
	}
	return "etcd " + st.Version, nil
}

// etcdNamespace returns the prefix lab-<random>/ ; its keys are deleted at cleanup.
func etcdNamespace(t testing.TB, inst *Instance) EtcdEndpoint {
	t.Helper()
	ep := EtcdEndpoint{Endpoints: etcdEndpoints(inst), Prefix: "lab-" + randomID(6) + "/"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := etcdDeletePrefix(ctx, ep); err != nil {
			t.Logf("infra: delete etcd keys %s*: %v", ep.Prefix, err)
		}
	})
	return ep
}

func etcdDeletePrefix(ctx context.Context, ep EtcdEndpoint) error {
	c, err := newEtcdClient(ep.Endpoints)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Delete(ctx, ep.Prefix, clientv3.WithPrefix())
	return err
}

// etcdArgs is the command line of a one-member etcd (3.4 or later) whose data lives in dataDir, serving clients
// on client and talking Raft to no one on peer (both host:port on loopback, unless the caller is a container).
func etcdArgs(dataDir, listenClient, advertiseClient, peer string) []string {
	return []string{
		"--name", "lab",
		"--data-dir", dataDir,
		"--listen-client-urls", "http://" + listenClient,
		"--advertise-client-urls", "http://" + advertiseClient,
		"--listen-peer-urls", "http://" + peer,
		"--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "lab=http://" + peer,
		"--initial-cluster-state", "new",
		"--logger", "zap",
		"--log-level", "warn",
	}
}

// isAddrInUse reports whether err comes from binding a port another process holds.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || (err != nil && strings.Contains(err.Error(), "address already in use"))
}

// etcdReadyTimeout bounds an etcd start: one member elects itself within a second on a quiet machine.
const etcdReadyTimeout = time.Minute
