package infra

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startKafka runs Kafka (the official image through the module, or the kfake stand-in), advertising the
// loopback port it is published on.
func startKafka(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	// Brokers advertise the address clients must use, so the published port is chosen before the start.
	// A reused container keeps the port it was created with; this one only applies to a new container.
	hostPort, err := freePort()
	if err != nil {
		return nil, nil, fmt.Errorf("pick a port for Kafka: %w", err)
	}
	var ctr testcontainers.Container
	var port string
	if choice.standIn {
		port = "9092/tcp"
		var c *testcontainers.DockerContainer
		c, err = testcontainers.Run(ctx, choice.ref, append(opts,
			testcontainers.WithExposedPorts(port),
			testcontainers.WithEnv(map[string]string{"KFAKE_ADVERTISED": net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort))}),
			bindLoopback(map[string]int{port: hostPort}),
			testcontainers.WithWaitStrategy(wait.ForLog(kfakeReadyLine), wait.ForListeningPort(port).SkipInternalCheck()),
		)...)
		ctr = orNil(c)
	} else {
		port = "9093/tcp" // the module's public listener
		var c *tckafka.KafkaContainer
		c, err = tckafka.Run(ctx, choice.ref, append(opts, bindLoopback(map[string]int{port: hostPort}))...)
		ctr = orNil(c)
	}
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, port, func(ctx context.Context, addr string) (string, error) {
		return kafkaVersion(ctx, []string{addr})
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.Brokers = []string{inst.Addr}
	return ctr, inst, nil
}
