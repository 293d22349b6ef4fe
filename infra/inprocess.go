package infra

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"
)

// inprocessProvider runs servers inside the test binary, where a library speaks the real protocol soundly
// (measured in ../shared/environment.md): Redis on miniredis, Kafka on kfake. There is no in-process MySQL:
// go-mysql-server loses committed writes under concurrency and does not block on SELECT ... FOR UPDATE.
// Consul and RabbitMQ (AMQP 0-9-1) have no in-process server either. etcd embeds its own server
// (go.etcd.io/etcd/server/v3/embed), see inprocess_etcd.go.
type inprocessProvider struct{}

func (inprocessProvider) Name() string { return ProviderInprocess }

func (inprocessProvider) Available(_ context.Context, svc Service) error {
	switch svc {
	case RedisService, KafkaService, EtcdService:
		return nil
	case MySQLService:
		return fmt.Errorf("no in-process MySQL, because no embeddable server keeps transactions and row locks correct: %w", ErrUnsupported)
	case PostgresService:
		return fmt.Errorf("no in-process PostgreSQL: embedding it means downloading server binaries at run time: %w", ErrUnsupported)
	case RabbitMQService:
		return errNoInprocessRabbitMQ
	case JaegerService:
		return fmt.Errorf("no in-process Jaeger: its server is a 120 MB OpenTelemetry Collector build, too heavy to link into every test binary "+
			"(chapter tests that need no server use the OTel SDK's in-memory exporter): %w", ErrUnsupported)
	case PrometheusService:
		return fmt.Errorf("no in-process Prometheus: linking its server into test binaries is too heavy "+
			"(prometheus/testutil reads a registry without a server): %w", ErrUnsupported)
	default:
		return fmt.Errorf("no in-process %s: %w", svc, ErrUnsupported)
	}
}

func (p inprocessProvider) Start(ctx context.Context, svc Service) (*Instance, error) {
	begin := time.Now()
	switch svc {
	case RedisService:
		m := miniredis.NewMiniRedis()
		m.ClockTTL(true) // keys expire in real time, as on a real server
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start miniredis: %w", err)
		}
		return &Instance{
			Service: svc, Provider: ProviderInprocess, Addr: m.Addr(),
			Version: strings.TrimSpace("miniredis " + moduleVersion("github.com/alicebob/miniredis/v2")),
			Started: time.Since(begin),
			Stop:    func(context.Context) error { m.Close(); return nil },
		}, nil
	case KafkaService:
		c, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.AllowAutoTopicCreation(), // as a broker with default settings does
			kfake.DefaultNumPartitions(1),
		)
		if err != nil {
			return nil, fmt.Errorf("start kfake: %w", err)
		}
		addrs := c.ListenAddrs()
		return &Instance{
			Service: svc, Provider: ProviderInprocess, Addr: addrs[0], Brokers: addrs,
			Version: strings.TrimSpace("kfake " + moduleVersion("github.com/twmb/franz-go/pkg/kfake")),
			Started: time.Since(begin),
			Stop:    func(context.Context) error { c.Close(); return nil },
		}, nil
	case EtcdService:
		return retryPortTaken(func() (*Instance, error) { return startInprocessEtcd(ctx) })
	}
	return nil, p.Available(context.Background(), svc)
}

// moduleVersion returns the version of a module linked into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "" // test binaries carry no dependency list
}
