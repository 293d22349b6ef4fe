// Package shutdown runs one instance of a small orders service with everything a real one holds: an HTTP
// listener, a Consul registration, a Kafka consumer and a MySQL pool. What you build is the part that decides
// whether a deploy fails requests: starting in the right order, and stopping in the right order on SIGTERM.
package shutdown

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MySQL driver for database/sql
	"github.com/hashicorp/consul/api"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config describes one instance.
type Config struct {
	Addr    string      // HTTP listen address; "127.0.0.1:0" picks a free port
	Consul  *api.Client // the local Consul agent
	Service string      // service name in Consul
	ID      string      // this instance's id in Consul
	DSN     string      // MySQL, go-sql-driver form
	Brokers []string    // Kafka seed brokers
	Topic   string      // the topic of order events to consume
	Group   string      // the consumer group; its committed offset is where the next instance resumes
	// DrainDelay is how long the instance keeps serving after it reported not ready and left Consul, so that
	// load balancers and clients holding a stale list stop sending to it before the listener closes.
	DrainDelay time.Duration
	// Budget bounds the whole shutdown, from the signal to the return of Run (Kubernetes kills the pod
	// terminationGracePeriodSeconds after SIGTERM, 30 s by default). Work still running when it is spent is cut off.
	Budget time.Duration
	// Work is the slow part of serving an order or handling an event, done before its database write
	// (nil: nothing slow). Tests use it to hold a request or a message in flight.
	Work func(ctx context.Context, what string) error
}

// app is the business part of the service: it is complete, you do not change it.
type app struct {
	db    *sql.DB
	work  func(ctx context.Context, what string) error
	ready atomic.Bool // what GET /readyz reports
}

func newApp(db *sql.DB, cfg Config) *app {
	work := cfg.Work
	if work == nil {
		work = func(context.Context, string) error { return nil }
	}
	return &app{db: db, work: work}
}

// routes serves GET /readyz (200 while ready, else 503) and POST /orders?id=ID, which does the slow work and then
// stores the order: it needs the database at its very end.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		if id == "" {
			http.Error(w, "missing id", http.StatusBadRequest)
			return
		}
		if err := a.work(r.Context(), "order-"+id); err != nil {
			http.Error(w, "order not stored", http.StatusServiceUnavailable)
			return
		}
		if _, err := a.db.ExecContext(r.Context(), "INSERT IGNORE INTO orders (id) VALUES (?)", id); err != nil {
			http.Error(w, "order not stored", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "stored", id)
	})
	return mux
}

// handleEvent processes one order event: the slow work, then a row in events (idempotent: a redelivered event
// is stored once).
func (a *app) handleEvent(ctx context.Context, rec *kgo.Record) error {
	id := string(rec.Key)
	if err := a.work(ctx, "event-"+id); err != nil {
		return fmt.Errorf("event %s: %w", id, err)
	}
	if _, err := a.db.ExecContext(ctx, "INSERT IGNORE INTO events (id) VALUES (?)", id); err != nil {
		return fmt.Errorf("event %s: store: %w", id, err)
	}
	return nil
}

// Schema is what the service needs in its database.
var Schema = []string{
	"CREATE TABLE IF NOT EXISTS orders (id VARCHAR(64) PRIMARY KEY)",
	"CREATE TABLE IF NOT EXISTS events (id VARCHAR(64) PRIMARY KEY)",
}

// openDB opens the pool, checks that MySQL answers and creates the tables.
func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("open mysql: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, stmt := range Schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("mysql schema: %w", err)
		}
	}
	return db, nil
}

// newConsumer joins cfg.Group on cfg.Topic. Offsets are committed only for records marked with
// MarkCommitRecords (AutoCommitMarks): every few seconds by the client, and by CommitMarkedOffsets.
// A record that was polled but not processed is never committed, so the next instance gets it again.
func newConsumer(cfg Config) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	return cl, nil
}

// registration is what the instance registers in Consul once it serves at addr: Consul polls /readyz too.
func registration(cfg Config, addr *net.TCPAddr) *api.AgentServiceRegistration {
	return &api.AgentServiceRegistration{
		ID: cfg.ID, Name: cfg.Service, Address: addr.IP.String(), Port: addr.Port,
		Check: &api.AgentServiceCheck{
			CheckID:                        cfg.ID + ":ready",
			HTTP:                           "http://" + addr.String() + "/readyz",
			Interval:                       "2s",
			Timeout:                        "1s",
			DeregisterCriticalServiceAfter: "1m",
		},
	}
}
