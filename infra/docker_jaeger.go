package infra

import (
	"context"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startJaeger runs Jaeger v2 all-in-one with in-memory storage: the official jaegertracing/jaeger image, or the
// stand-in that infra/images/build.sh makes FROM scratch with the binary InstallJaeger builds. Both run their
// built-in configuration, which listens on JAEGER_LISTEN_HOST (0.0.0.0 in both images) at Jaeger's default ports;
// OTLP/gRPC (4317), OTLP/HTTP (4318) and the query API (16686) are published on 127.0.0.1 only.
func startJaeger(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	const grpcPort, httpPort, queryPort = "4317/tcp", "4318/tcp", "16686/tcp"
	c, err := testcontainers.Run(ctx, choice.ref, append(opts,
		testcontainers.WithExposedPorts(grpcPort, httpPort, queryPort),
		testcontainers.WithEnv(map[string]string{"JAEGER_LISTEN_HOST": "0.0.0.0"}),
		bindLoopback(nil),
		testcontainers.WithWaitStrategy(
			wait.ForListeningPort(grpcPort).SkipInternalCheck().WithStartupTimeout(2*time.Minute),
			wait.ForHTTP("/api/services").WithPort(queryPort).WithStartupTimeout(2*time.Minute).WithPollInterval(200*time.Millisecond),
		),
	)...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	query, err := loopbackEndpoint(ctx, ctr, queryPort)
	if err != nil {
		return ctr, nil, err
	}
	otlpHTTP, err := loopbackEndpoint(ctx, ctr, httpPort)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, grpcPort, func(ctx context.Context, addr string) (string, error) {
		return jaegerVersion(ctx, addr, jaegerQueryURL(query))
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.Extra = map[string]string{extraOTLPHTTP: otlpHTTP, extraQueryURL: jaegerQueryURL(query)}
	return ctr, inst, nil
}
