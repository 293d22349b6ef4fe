package infra

import (
	"context"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// postgresPassword is the superuser's password in a container; the port is published on 127.0.0.1 only.
const postgresPassword = "microlab"

// startPostgres runs PostgreSQL from the official image or the stand-in (infra/images/postgres-entrypoint.sh),
// which both take POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB.
func startPostgres(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	ready := wait.ForLog("database system is ready to accept connections").WithStartupTimeout(2 * time.Minute)
	if !choice.standIn {
		// The official image starts a temporary server to run its init scripts, stops it and starts the real
		// one: the line comes twice. The stand-in initialises offline and prints it once.
		ready = ready.WithOccurrence(2)
	}
	opts = append(opts,
		tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword(postgresPassword), tcpostgres.WithDatabase("postgres"),
		bindLoopback(nil),
		// As the native server: two-phase commit on, and no durability across a power loss, which tests don't need.
		testcontainers.WithCmd("postgres", "-c", "max_prepared_transactions=64", "-c", "max_connections=300",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
		testcontainers.WithWaitStrategy(ready, wait.ForListeningPort("5432/tcp").SkipInternalCheck()),
	)
	c, err := tcpostgres.Run(ctx, choice.ref, opts...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "5432/tcp", func(ctx context.Context, addr string) (string, error) {
		return postgresVersion(ctx, postgresDSN(addr, postgresPassword, "postgres"))
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.AdminDSN = postgresDSN(inst.Addr, postgresPassword, "postgres")
	return ctr, inst, nil
}
