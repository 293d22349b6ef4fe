package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// nativeProvider starts server binaries installed on this machine on free loopback ports, each in a work
// directory of its own under workRoot. Every server dies with the process that started it.
type nativeProvider struct{}

func (nativeProvider) Name() string { return ProviderNative }

func (nativeProvider) Available(ctx context.Context, svc Service) error {
	var err error
	switch svc {
	case MySQLService:
		_, err = findMySQL(ctx)
	case RedisService:
		_, err = findRedis()
	case ConsulService:
		_, err = findConsul()
	case PostgresService:
		_, err = findPostgres(ctx)
	case RabbitMQService:
		_, err = findRabbitMQ()
	case JaegerService:
		_, err = findJaeger()
	case PrometheusService:
		_, err = findPrometheus()
	case EtcdService:
		_, err = findEtcd()
	case KafkaService:
		err = fmt.Errorf("no native Kafka, because it needs a JVM and no distribution packages it: %w", ErrUnsupported)
	default:
		err = fmt.Errorf("no native %s: %w", svc, ErrUnsupported)
	}
	return err
}

// Start starts svc on ports picked free just before; if another process takes one of them before the server
// binds it, it tries again on new ports.
func (nativeProvider) Start(ctx context.Context, svc Service) (*Instance, error) {
	var start func(context.Context) (*Instance, error)
	switch svc {
	case MySQLService:
		start = startNativeMySQL
	case RedisService:
		start = startNativeRedis
	case ConsulService:
		start = startNativeConsul
	case PostgresService:
		start = startNativePostgres
	case RabbitMQService:
		start = startNativeRabbitMQ
	case JaegerService:
		start = startNativeJaeger
	case PrometheusService:
		start = startNativePrometheus
	case EtcdService:
		start = startNativeEtcd
	default:
		return nil, fmt.Errorf("no native %s: %w", svc, ErrUnsupported)
	}
	return retryPortTaken(func() (*Instance, error) { return start(ctx) })
}

func findRedis() (string, error) {
	p, err := findBinary([]string{"redis-server"}, "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")
	if err != nil {
		return "", fmt.Errorf("no redis-server: %w", err)
	}
	return p, nil
}

func startNativeRedis(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "--version").Output(); err != nil || len(out) == 0 {
		return nil, fmt.Errorf("%s --version: %w", bin, err)
	}
	dir, err := newWorkDir(RedisService)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc(dir, "redis.log", bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = redisVersion(ctx, addr)
		return err
	}); err != nil {
		_ = p.stop(context.Background())
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Instance{
		Service: RedisService, Provider: ProviderNative, Addr: addr, Version: version,
		Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(p.stop(ctx), os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid, dir: dir,
	}, nil
}
