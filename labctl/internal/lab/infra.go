package lab

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/gomicrolab/microlab/infra"
)

// ErrInfraUnavailable means the infrastructure a check needs could not be started.
var ErrInfraUnavailable = errors.New("infrastructure unavailable")

// InfraStarter starts the shared servers for services ("mysql", "redis", ...) and returns the
// environment that points child test processes at them, and a function that stops them.
type InfraStarter func(ctx context.Context, services []string, logf func(string, ...any)) (env []string, stop func(context.Context) error, err error)

// defaultInfraStarter starts an infra.Session: one server per service, shared by every test binary of
// the check through the environment (the infra package's env provider reads it).
var defaultInfraStarter InfraStarter = infra.StartNamed

// sweepTimeout bounds the sweep for orphans before a check: it is housekeeping, never a reason to wait.
const sweepTimeout = 10 * time.Second

// defaultInfraSweeper removes what an earlier, killed check left: containers of their own whose test binary
// died, native servers (a Consul dev agent of 05's tests) whose owner is gone, and the Consul services of dead
// test binaries on the agent of env (a reused container's, or `labctl infra up`'s) or of LAB_CONSUL_ADDR.
func defaultInfraSweeper(ctx context.Context, env []string) {
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	infra.SweepOrphans(ctx)
	for _, kv := range env {
		if addr, ok := strings.CutPrefix(kv, infra.EnvConsulAddr+"="); ok && addr != os.Getenv(infra.EnvConsulAddr) {
			_ = infra.SweepConsul(ctx, addr) // SweepOrphans swept LAB_CONSUL_ADDR's already
		}
	}
}
