package infra

import (
	"context"
	"os"

	"github.com/testcontainers/testcontainers-go"
)

// SweepOrphans removes what servers of processes that died without cleaning up left behind: the containers of
// their own (not the shared, reused ones) and the native servers' directories, stopping a server still running
// in one, and the Consul services of dead test binaries on a long-lived agent (SweepConsul). A killed check (Ctrl-C during a start, a test binary killed by a timeout) leaves such orphans;
// labctl sweeps before each check that needs infrastructure. It is best effort and quick when Docker is absent.
func SweepOrphans(ctx context.Context) {
	sweepStale(workRoot())
	if addr := os.Getenv(EnvConsulAddr); addr != "" {
		_ = SweepConsul(ctx, addr) // a long-lived agent (labctl infra up, the learner's own) keeps dead tests' services
	}
	_ = withDockerClient(ctx, func(cli *testcontainers.DockerClient) error {
		(&dockerProvider{}).sweepOrphans(ctx, cli)
		return nil
	})
}
