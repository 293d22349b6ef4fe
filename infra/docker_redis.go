package infra

import (
	"context"

	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// startRedis runs Redis, the official image or the local stand-in, on a loopback port.
func startRedis(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	// The stand-in's entrypoint already runs redis-server as the official image does; the module's
	// wait strategy ("Ready to accept connections" and the port) fits both.
	c, err := tcredis.Run(ctx, choice.ref, append(opts, bindLoopback(nil))...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "6379/tcp", redisVersion)
	return ctr, inst, err
}
