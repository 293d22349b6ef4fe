package infra

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Environment variables of the env provider. `labctl infra up` prints them, and labctl sets them for the
// tests it runs, so that every test binary uses the same long-running servers.
const (
	EnvMySQLDSN     = "LAB_MYSQL_DSN"     // admin DSN (go-sql-driver format), e.g. root@tcp(127.0.0.1:3306)/
	EnvRedisAddr    = "LAB_REDIS_ADDR"    // host:port
	EnvConsulAddr   = "LAB_CONSUL_ADDR"   // host:port of the HTTP API
	EnvKafkaBrokers = "LAB_KAFKA_BROKERS" // comma-separated host:port list
	EnvPostgresDSN  = "LAB_POSTGRES_DSN"  // admin URL, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
)

// envVar returns the variable that names svc's endpoint.
func envVar(svc Service) string {
	switch svc {
	case MySQLService:
		return EnvMySQLDSN
	case RedisService:
		return EnvRedisAddr
	case ConsulService:
		return EnvConsulAddr
	case KafkaService:
		return EnvKafkaBrokers
	case PostgresService:
		return EnvPostgresDSN
	case RabbitMQService:
		return EnvRabbitMQURL
	case JaegerService:
		return EnvJaegerOTLP
	case PrometheusService:
		return EnvPrometheusURL
	case EtcdService:
		return EnvEtcdEndpoints
	}
	return ""
}

// envProviderVars lists every variable the env provider reads.
func envProviderVars() []string {
	vars := []string{EnvJaegerOTLPHTTP, EnvJaegerQuery, EnvPrometheusSDDir}
	for _, svc := range Services {
		vars = append(vars, envVar(svc))
	}
	return vars
}

// EnvFor returns the env-provider variables (NAME=value) that point a child process at inst: one for most
// services, several for Jaeger and Prometheus.
func EnvFor(inst *Instance) []string {
	switch inst.Service {
	case MySQLService:
		return []string{EnvMySQLDSN + "=" + inst.AdminDSN}
	case PostgresService:
		return []string{EnvPostgresDSN + "=" + inst.AdminDSN}
	case KafkaService:
		brokers := inst.Brokers
		if len(brokers) == 0 {
			brokers = []string{inst.Addr}
		}
		return []string{EnvKafkaBrokers + "=" + strings.Join(brokers, ",")}
	case RabbitMQService:
		return []string{EnvRabbitMQURL + "=" + rabbitmqEnvValue(inst)}
	case JaegerService:
		return jaegerEnv(inst)
	case PrometheusService:
		return prometheusEnv(inst)
	case EtcdService:
		return []string{EnvEtcdEndpoints + "=" + strings.Join(etcdEndpoints(inst), ",")}
	default:
		return []string{envVar(inst.Service) + "=" + inst.Addr}
	}
}

// envProvider serves the endpoints given in the environment. It starts nothing, so Stop is nil.
type envProvider struct{}

func (envProvider) Name() string { return ProviderEnv }

func (envProvider) Available(_ context.Context, svc Service) error {
	name := envVar(svc)
	if name == "" {
		return fmt.Errorf("unknown service %q", svc)
	}
	if os.Getenv(name) == "" {
		return fmt.Errorf("%s is not set", name)
	}
	return nil
}

// envProbeTimeout bounds the first answer of a server named in the environment: a port that accepts but
// never answers (a stopped container behind a proxy, a wrong service) must fail with the variable's name,
// not hang the check.
var envProbeTimeout = 10 * time.Second

func (envProvider) Start(ctx context.Context, svc Service) (*Instance, error) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, envProbeTimeout)
	defer cancel()
	value := strings.TrimSpace(os.Getenv(envVar(svc)))
	inst := &Instance{Service: svc, Provider: ProviderEnv}
	var err error
	switch svc {
	case MySQLService:
		cfg, perr := mysql.ParseDSN(value)
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", EnvMySQLDSN, perr)
		}
		inst.Addr, inst.AdminDSN = cfg.Addr, value
		inst.Version, err = mysqlVersion(ctx, value)
	case RedisService:
		inst.Addr = value
		inst.Version, err = redisVersion(ctx, value)
	case ConsulService:
		inst.Addr = strings.TrimPrefix(value, "http://")
		inst.Version, err = consulVersion(ctx, inst.Addr)
	case KafkaService:
		for _, b := range strings.Split(value, ",") {
			if b = strings.TrimSpace(b); b != "" {
				inst.Brokers = append(inst.Brokers, b)
			}
		}
		if len(inst.Brokers) == 0 {
			return nil, fmt.Errorf("%s lists no broker", EnvKafkaBrokers)
		}
		inst.Addr = inst.Brokers[0]
		inst.Version, err = kafkaVersion(ctx, inst.Brokers)
	case PostgresService:
		cfg, perr := pgx.ParseConfig(value)
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", EnvPostgresDSN, perr)
		}
		inst.Addr, inst.AdminDSN = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), value
		inst.Version, err = postgresVersion(ctx, value)
	case RabbitMQService:
		if inst.Addr, inst.AdminDSN, err = parseRabbitMQEnv(value); err != nil {
			return nil, err
		}
		inst.Version, err = rabbitmqVersion(ctx, inst.Addr, inst.AdminDSN)
	case JaegerService:
		if err := parseJaegerEnv(inst); err != nil {
			return nil, err
		}
		inst.Version, err = jaegerVersion(ctx, inst.Addr, inst.Extra[extraQueryURL])
	case PrometheusService:
		if err := parsePrometheusEnv(inst); err != nil {
			return nil, err
		}
		inst.Version, err = prometheusVersion(ctx, inst.Extra[extraURL])
	case EtcdService:
		if inst.Brokers, err = parseEtcdEnv(value); err != nil {
			return nil, err
		}
		inst.Addr = inst.Brokers[0]
		inst.Version, err = etcdVersion(ctx, inst.Brokers)
	default:
		return nil, fmt.Errorf("unknown service %q", svc)
	}
	if err != nil {
		return nil, fmt.Errorf("%s=%s does not answer within %v (is `labctl infra up` still running?): %w", envVar(svc), value, envProbeTimeout, err)
	}
	inst.Started = time.Since(begin)
	return inst, nil
}
