package infra

import (
	"context"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startRabbitMQ runs RabbitMQ with the management plugin: the official rabbitmq:3.10-management image, or the
// stand-in that infra/images/build.sh makes from Debian's rabbitmq-server. Both get one administrator,
// rabbitmqUser (the official image from RABBITMQ_DEFAULT_USER/PASS, the stand-in from its rabbitmq.conf), and
// publish AMQP (5672) and the management API (15672) on 127.0.0.1.
func startRabbitMQ(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	const amqpPort, mgmtPort = "5672/tcp", "15672/tcp"
	// The management API answers once the node and every plugin have started, which takes seconds (the Erlang
	// VM boots, then Mnesia, then the plugins): wait for it rather than for a log line, which differs by image.
	c, err := testcontainers.Run(ctx, choice.ref, append(opts,
		testcontainers.WithExposedPorts(amqpPort, mgmtPort),
		testcontainers.WithEnv(map[string]string{"RABBITMQ_DEFAULT_USER": rabbitmqUser, "RABBITMQ_DEFAULT_PASS": rabbitmqPassword}),
		bindLoopback(nil),
		testcontainers.WithWaitStrategy(
			wait.ForListeningPort(amqpPort).SkipInternalCheck().WithStartupTimeout(rabbitmqReadyTimeout),
			wait.ForHTTP("/api/overview").WithPort(mgmtPort).WithBasicAuth(rabbitmqUser, rabbitmqPassword).
				WithStartupTimeout(rabbitmqReadyTimeout).WithPollInterval(200*time.Millisecond),
		),
	)...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	mgmt, err := loopbackEndpoint(ctx, ctr, mgmtPort)
	if err != nil {
		return ctr, nil, err
	}
	admin := rabbitmqAdminURL(mgmt)
	inst, err := serving(ctx, ctr, amqpPort, func(ctx context.Context, addr string) (string, error) {
		return rabbitmqVersion(ctx, addr, admin)
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.AdminDSN = admin
	return ctr, inst, nil
}
