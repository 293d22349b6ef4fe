// Package infra gives chapter tests real infrastructure through one small API.
//
// Each call returns connection details for a namespace of its own (a database, a key prefix,
// a topic prefix, a service-name prefix) on a shared server, and registers its cleanup with t.
// Servers come from the first provider that can serve, in this order unless LAB_INFRA says otherwise:
// endpoints given in the environment, Docker (testcontainers-go), in-process servers, native binaries.
// When none can serve, the test fails with a message that starts with UnavailablePrefix. It never skips.
package infra

import (
	"context"
	"testing"
	"time"
)

// UnavailablePrefix starts every failure message that means "no infrastructure", so that labctl can
// report an infrastructure error instead of a test failure.
const UnavailablePrefix = "infra unavailable:"

// Service names a kind of server.
type Service string

const (
	MySQLService    Service = "mysql"
	RedisService    Service = "redis"
	ConsulService   Service = "consul"
	KafkaService    Service = "kafka"
	RabbitMQService Service = "rabbitmq"
	// PostgresService is PostgreSQL, the other relational database the course's source material names.
	PostgresService Service = "postgres"
	// JaegerService is Jaeger v2 all-in-one (in-memory storage): OTLP in, the query API out.
	JaegerService Service = "jaeger"
	// PrometheusService is a Prometheus that scrapes the targets tests add, every second.
	PrometheusService Service = "prometheus"
	// EtcdService is a one-member etcd serving the v3 API (KV, leases, watches, transactions).
	EtcdService Service = "etcd"
)

// RedisEndpoint is a Redis namespace: use keys under Prefix only, and never FLUSHDB.
type RedisEndpoint struct {
	Addr   string // host:port on loopback
	DB     int
	Prefix string // unique per call, ends with ":"
}

// ConsulEndpoint is a Consul namespace: name services and KV keys under Prefix.
type ConsulEndpoint struct {
	Addr   string // host:port of the HTTP API on loopback
	Prefix string // unique per call, ends with "-"
}

// KafkaEndpoint is a Kafka namespace: create topics whose names start with TopicPrefix.
type KafkaEndpoint struct {
	Brokers     []string // host:port seeds on loopback
	TopicPrefix string   // unique per call
}

// MySQL returns the DSN of a fresh, empty database of its own (go-sql-driver format, parseTime=true).
// Its connections wait at most MySQLLockWaitTimeout for a row lock. The database is dropped at cleanup.
func MySQL(t testing.TB) string {
	t.Helper()
	return mysqlNamespace(t, need(t, MySQLService))
}

// Redis returns a namespace on a shared Redis server.
func Redis(t testing.TB) RedisEndpoint {
	t.Helper()
	return redisNamespace(t, need(t, RedisService))
}

// Consul returns a namespace on a shared Consul agent.
func Consul(t testing.TB) ConsulEndpoint {
	t.Helper()
	return consulNamespace(t, need(t, ConsulService))
}

// Kafka returns a namespace on a shared Kafka cluster.
func Kafka(t testing.TB) KafkaEndpoint {
	t.Helper()
	return kafkaNamespace(t, need(t, KafkaService))
}

// Postgres returns the URL of a fresh, empty database of its own (postgres://…?sslmode=disable, which
// github.com/jackc/pgx/v5 reads). Its connections wait at most PostgresLockTimeout for a lock. The database is
// dropped at cleanup.
func Postgres(t testing.TB) string {
	t.Helper()
	return postgresNamespace(t, need(t, PostgresService))
}

// OwnedConsul is a Consul agent of the test's own, which the test may stop and start again.
type OwnedConsul struct {
	Endpoint ConsulEndpoint
	inst     *Instance
}

// Stop stops the agent; its address stays reserved for Start. Clients see connection errors meanwhile.
func (o *OwnedConsul) Stop(t testing.TB) {
	t.Helper()
	if err := o.inst.Pause(context.Background()); err != nil {
		t.Fatalf("stop own Consul at %s: %v", o.Endpoint.Addr, err)
	}
}

// Start starts the agent again at the same address and waits until it answers. A dev-mode agent keeps no
// state across a restart: registrations and KV entries are gone.
func (o *OwnedConsul) Start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := o.inst.Resume(ctx); err != nil {
		t.Fatalf("start own Consul again at %s: %v", o.Endpoint.Addr, err)
	}
}

// OwnConsul starts a private Consul agent for this test and stops it at cleanup. Use it when the test stops
// Consul on purpose; everything else should use Consul(t), which shares one agent.
func OwnConsul(t testing.TB) *OwnedConsul {
	t.Helper()
	inst, err := startRestartable(ConsulService)
	if err != nil {
		t.Fatalf("%s %v", UnavailablePrefix, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := inst.Stop(ctx); err != nil {
			t.Logf("infra: stop own Consul: %v", err)
		}
	})
	return &OwnedConsul{Endpoint: ConsulEndpoint{Addr: inst.Addr, Prefix: "lab-" + randomID(6) + "-"}, inst: inst}
}
