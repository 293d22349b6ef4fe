package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// EnvConsulBin names a Consul binary to use instead of the one on PATH or in the cache.
const EnvConsulBin = "LAB_CONSUL_BIN"

// ConsulCachePath is where `labctl infra install consul` puts the Consul it builds: $HOME/.cache/microlab/bin/consul.
func ConsulCachePath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "microlab", "bin", "consul")
}

func findConsul() (string, error) {
	if p, set, err := binFromEnv(EnvConsulBin); set {
		return p, err
	}
	p, err := findBinary([]string{"consul"}, filepath.Dir(ConsulCachePath()), "/usr/local/bin", "/opt/homebrew/bin")
	if err != nil {
		return "", fmt.Errorf("no consul binary (run `go run ./labctl infra install consul`): %w", err)
	}
	return p, nil
}

// consulAgent is a dev-mode agent whose ports stay fixed across restarts, so that a test can stop it and
// start it again at the same address.
type consulAgent struct {
	bin, dir, node, addr string
	args                 []string

	mu sync.Mutex
	p  *proc
}

func startNativeConsul(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	bin, err := findConsul()
	if err != nil {
		return nil, err
	}
	dir, err := newWorkDir(ConsulService)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(6)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	a := &consulAgent{bin: bin, dir: dir, node: "lab-" + randomID(4), addr: "127.0.0.1:" + strconv.Itoa(ports[0])}
	a.args = consulDevArgs(a.node, [6]int(ports))
	version, err := a.start(ctx)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Instance{
		Service: ConsulService, Provider: ProviderNative, Addr: a.addr, Version: version,
		Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(a.stop(ctx), os.RemoveAll(dir))
		},
		Pause:  a.stop,
		Resume: func(ctx context.Context) error { _, err := a.start(ctx); return err },
		pid:    a.pid(), dir: dir,
	}, nil
}

// start runs the agent and waits until it has a leader and has registered its own node.
func (a *consulAgent) start(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p != nil && !a.p.exited() {
		return "", errors.New("consul agent is already running")
	}
	p, err := startProc(a.dir, "consul.log", a.bin, a.args...)
	if err != nil {
		return "", err
	}
	a.p = p
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = p.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = consulReady(ctx, a.addr, a.node)
		return err
	})
	if err != nil {
		_ = p.stop(context.Background())
		return "", err
	}
	return version, nil
}

func (a *consulAgent) stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p == nil {
		return nil
	}
	return a.p.stop(ctx)
}

func (a *consulAgent) pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p == nil {
		return 0
	}
	return a.p.cmd.Process.Pid
}

// consulReady checks that the agent has a leader and that its node is in the catalog, so that
// registrations and health queries work at once.
func consulReady(ctx context.Context, addr, node string) (string, error) {
	version, err := consulVersion(ctx, addr)
	if err != nil {
		return "", err
	}
	c, err := consulapi.NewClient(&consulapi.Config{Address: addr})
	if err != nil {
		return "", err
	}
	n, _, err := c.Catalog().Node(node, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("read Consul catalog: %w", err)
	}
	if n == nil || n.Node == nil {
		return "", fmt.Errorf("node %s not yet in the Consul catalog", node)
	}
	return version, nil
}
