// Command orders runs the chapter's pipeline as three processes you can kill and restart: an HTTP API that
// places orders into the outbox, a relay that publishes the outbox to Kafka, and a consumer group member that
// ships each order once (idempotent, with manual commits). From chapters/, with servers from `labctl infra up`:
//
//	go run ./07-messaging/cmd/orders -role api &                      # POST /orders on 127.0.0.1:8097
//	go run ./07-messaging/cmd/orders -role relay &
//	go run ./07-messaging/cmd/orders -role consumer -slow 200ms &
//	curl -s -XPOST localhost:8097/orders -d '{"id":"o-1","user_id":7,"total":1999}'
//	go run ./07-messaging/cmd/inspect                                  # topics, groups, lag
//
// Kill the consumer (Ctrl-C or kill -9) in the middle of a backlog and start it again: it resumes at its
// committed offset. Start the relay with -crash-after-publish: it dies after publishing a batch and before
// marking it, the next relay publishes the batch again, and the consumer prints "duplicate, absorbed".
// (The commands assume you ran `eval "$(go run ./labctl infra up mysql kafka)"` at the repository root, then
// `cd chapters`.)
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/consumer"
	"github.com/gomicrolab/microlab/chapters/07-messaging/idem"
	"github.com/gomicrolab/microlab/chapters/07-messaging/outbox"
)

const database = "microlab_orders"

func main() {
	role := flag.String("role", "", "api, relay or consumer")
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL admin DSN (default $LAB_MYSQL_DSN); the database "+database+" is created in it")
	brokers := flag.String("brokers", envOr("LAB_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	topic := flag.String("topic", "orders", "topic of order events")
	group := flag.String("group", "shipping", "consumer group")
	addr := flag.String("addr", "127.0.0.1:8097", "api: listen address")
	slow := flag.Duration("slow", 0, "consumer: time each order takes, so that you can kill it in the middle")
	crash := flag.Bool("crash-after-publish", false, "relay: exit right after publishing a batch, before marking it")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := openDB(ctx, *dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	seeds := strings.Split(*brokers, ",")

	switch *role {
	case "api":
		err = serveAPI(ctx, db, *addr, *topic)
	case "relay":
		err = runRelay(ctx, db, seeds, *topic, *crash)
	case "consumer":
		err = runConsumer(ctx, db, seeds, *topic, *group, *slow)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// openDB creates the database and the tables if needed.
func openDB(ctx context.Context, admin string) (*sql.DB, error) {
	if admin == "" {
		return nil, errors.New("no MySQL: set LAB_MYSQL_DSN (eval \"$(go run ./labctl infra up mysql kafka)\" at the repository root) or pass -dsn")
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %w", err)
	}
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	cfg.DBName = database
	cfg.ParseTime = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	stmts := append(append([]string{}, outbox.Schema...), idem.Schema,
		"CREATE TABLE IF NOT EXISTS shipments (order_id VARCHAR(64) PRIMARY KEY, shipped_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))")
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("create tables: %w", err)
		}
	}
	return db, nil
}

func serveAPI(ctx context.Context, db *sql.DB, addr, topic string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o outbox.Order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&o); err != nil || o.ID == "" || len(o.ID) > 64 {
			http.Error(w, `{"error":"want {\"id\":\"...\",\"user_id\":1,\"total\":100}"}`, http.StatusBadRequest)
			return
		}
		if err := outbox.PlaceOrder(r.Context(), db, topic, o); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1062 {
				http.Error(w, `{"error":"order exists"}`, http.StatusConflict)
				return
			}
			log.Printf("place order %s: %v", o.ID, err)
			http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(o)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("api: POST http://%s/orders writes the order and its event in one transaction", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// crashing exits the process right after a successful publish: the rows stay unmarked.
type crashing struct{ *kgo.Client }

func (c crashing) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	res := c.Client.ProduceSync(ctx, rs...)
	if res.FirstErr() == nil {
		log.Printf("relay: published %d records, crashing before marking them", len(rs))
		os.Exit(3)
	}
	return res
}

func runRelay(ctx context.Context, db *sql.DB, brokers []string, topic string, crash bool) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()
	var p outbox.Producer = cl
	if crash {
		p = crashing{cl}
	}
	log.Printf("relay: publishing the outbox to %s on %v", topic, brokers)
	relay := &outbox.Relay{DB: db, Producer: p, Batch: 50}
	return relay.Run(ctx, 200*time.Millisecond, func(err error) { log.Printf("relay: %v (rows kept, retrying)", err) })
}

func runConsumer(ctx context.Context, db *sql.DB, brokers []string, topic, group string, slow time.Duration) error {
	shipping := &idem.Consumer{DB: db, Name: group}
	log.Printf("consumer: group %s reading %s", group, topic)
	err := consumer.Run(ctx, consumer.Config{Brokers: brokers, Group: group, Topic: topic}, func(ctx context.Context, r *kgo.Record) error {
		select {
		case <-time.After(slow):
		case <-ctx.Done():
			return ctx.Err()
		}
		id := ""
		for _, h := range r.Headers {
			if h.Key == outbox.MessageIDHeader {
				id = string(h.Value)
			}
		}
		applied, err := shipping.Handle(ctx, id, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO shipments (order_id) VALUES (?)", string(r.Key))
			return err
		})
		switch {
		case err != nil:
			log.Printf("consumer: %s %s@%d: %v", r.Key, r.Topic, r.Offset, err)
		case applied:
			log.Printf("consumer: shipped %s (%s, partition %d offset %d)", r.Key, id, r.Partition, r.Offset)
		default:
			log.Printf("consumer: %s (%s) duplicate, absorbed", r.Key, id)
		}
		return err
	})
	return err
}
