package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startInprocessEtcd runs a one-member etcd inside this process (go.etcd.io/etcd/server/v3/embed, the same
// server code as the etcd binary), listening on free 127.0.0.1 ports, with its data in a work directory of its
// own. fsync is off: the data dies with the test run anyway, and fsync dominates start and write times.
func startInprocessEtcd(ctx context.Context) (*Instance, error) {
	begin := time.Now()
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
	cfg := embed.NewConfig()
	cfg.Name = "lab"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ListenClientUrls = []url.URL{{Scheme: "http", Host: client}}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.ListenPeerUrls = []url.URL{{Scheme: "http", Host: peer}}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.InitialCluster = "lab=http://" + peer
	cfg.UnsafeNoFsync = true
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		_ = os.RemoveAll(dir)
		if isAddrInUse(err) {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	stop := func(context.Context) error {
		e.Close() // returns once the server and its listeners have stopped
		return os.RemoveAll(dir)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		_ = stop(ctx)
		return nil, fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-ctx.Done():
		_ = stop(context.Background())
		return nil, fmt.Errorf("embedded etcd not ready: %w", ctx.Err())
	case <-time.After(etcdReadyTimeout):
		_ = stop(ctx)
		return nil, errors.New("embedded etcd not ready after " + etcdReadyTimeout.String())
	}
	return &Instance{
		Service: EtcdService, Provider: ProviderInprocess, Addr: client,
		Version: "etcd " + version.Version + " (embed)",
		Started: time.Since(begin),
		Stop:    stop,
	}, nil
}
