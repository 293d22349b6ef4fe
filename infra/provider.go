package infra

import (
	"context"
	"time"
)

// Instance is one running server, whoever started it.
type Instance struct {
	Service  Service
	Provider string   // "env", "docker", "inprocess" or "native"
	Addr     string   // host:port on loopback (Kafka: the first broker)
	Brokers  []string // Kafka: every broker; etcd: every client endpoint
	AdminDSN string   // MySQL and PostgreSQL: a DSN with rights to create and drop databases
	// Extra holds the other addresses of a server with several (Jaeger: its OTLP/HTTP receiver and query API;
	// Prometheus: its API URL and the directory of scrape-target files), by keys defined next to each service.
	Extra   map[string]string
	Version string        // what the server reports, for doctor
	Started time.Duration // how long the start took
	// Stop stops the server and removes what it left (container, process, temporary directory).
	// It is nil for servers this package did not start.
	Stop func(ctx context.Context) error
	// Pause stops the server but keeps its address, so that Resume can start it again there (OwnConsul uses them).
	// Both are nil when the provider cannot do that.
	Pause  func(ctx context.Context) error
	Resume func(ctx context.Context) error

	pid int    // the server process this package started, 0 otherwise
	dir string // its work directory, empty otherwise
}

// Provider starts servers of some kind.
type Provider interface {
	Name() string
	// Available says quickly whether this provider can serve svc here; the error says why not and what to install.
	Available(ctx context.Context, svc Service) error
	Start(ctx context.Context, svc Service) (*Instance, error)
}
