package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A native etcd is the distribution's etcd binary (Debian's etcd-server package: 3.4.23 in bookworm; Homebrew's
// etcd) run as a one-member cluster on free loopback ports, with its data in a work directory of its own. The
// v3 API that clientv3 v3.7 speaks (KV, Lease, Watch, Txn, Maintenance.Status) is served by 3.4 as well.

// EnvEtcdBin names an etcd binary to use instead of the one on PATH.
const EnvEtcdBin = "LAB_ETCD_BIN"

func findEtcd() (string, error) {
	if p, set, err := binFromEnv(EnvEtcdBin); set {
		return p, err
	}
	p, err := findBinary([]string{"etcd"}, "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")
	if err != nil {
		return "", fmt.Errorf("no etcd (Debian/Ubuntu: apt-get install etcd-server; macOS: brew install etcd): %w", err)
	}
	return p, nil
}

func startNativeEtcd(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	bin, err := findEtcd()
	if err != nil {
		return nil, err
	}
	dir, err := newWorkDir(EtcdService)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	client := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	peer := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	p, err := startProc(dir, "etcd.log", bin, etcdArgs(filepath.Join(dir, "data"), client, client, peer)...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, etcdReadyTimeout)
	defer cancel()
	if err := p.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = etcdVersion(ctx, []string{client})
		return err
	}); err != nil {
		if strings.Contains(p.tail(), "address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		_ = p.stop(context.Background())
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Instance{
		Service: EtcdService, Provider: ProviderNative, Addr: client, Version: version,
		Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(p.stop(ctx), os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid, dir: dir,
	}, nil
}
