package infra

import (
	"context"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startEtcdContainer runs a one-member etcd: the official gcr.io/etcd-development/etcd image, or the stand-in
// that infra/images/build.sh makes (a static build of etcd's own main, go.etcd.io/etcd/server/v3/etcdmain,
// at the version in go.mod). Both keep the binary at /usr/local/bin/etcd, so one command line serves both.
// The client port (2379) is published on 127.0.0.1; the peer port stays inside the container.
func startEtcdContainer(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	const clientPort = "2379/tcp"
	args := append([]string{"/usr/local/bin/etcd"}, etcdArgs("/var/lib/etcd", "0.0.0.0:2379", "127.0.0.1:2379", "127.0.0.1:2380")...)
	c, err := testcontainers.Run(ctx, choice.ref, append(opts,
		testcontainers.WithExposedPorts(clientPort),
		testcontainers.WithCmd(args...),
		bindLoopback(nil),
		testcontainers.WithWaitStrategy(
			wait.ForListeningPort(clientPort).SkipInternalCheck().WithStartupTimeout(etcdReadyTimeout).WithPollInterval(100*time.Millisecond),
		),
	)...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, clientPort, func(ctx context.Context, addr string) (string, error) {
		return etcdVersion(ctx, []string{addr})
	})
	return ctr, inst, err
}
