// Command capstone runs the whole system on loopback: the Gin gateway, and the user, order and payment
// services over gRPC, registered in Consul, each with its own MySQL database, the order events going through
// the outbox to Kafka. From the repository root:
//
//	eval "$(go run ./labctl infra up mysql consul kafka redis)"   # LAB_MYSQL_DSN, LAB_CONSUL_ADDR, LAB_KAFKA_BROKERS, LAB_REDIS_ADDR
//	go run ./chapters/11-capstone/cmd/capstone
//
// It creates the databases capstone_user, capstone_order and capstone_payment on that server (and keeps them)
// and the topic capstone-order-events. It prints where to look, and stops on Ctrl-C (each service leaves
// Consul first). See chapters/11-capstone/README.md ("Run it") for the curl, grpcurl and consul commands.
//
// Observability: JSON logs on stdout (zap, with trace_id inside a request), the gateway's RED metrics at
// GET /metrics, and, when LAB_JAEGER_OTLP is set (`labctl infra up jaeger` exports it), traces over OTLP/gRPC to
// Jaeger, one service name per part (gateway, user, order, payment); LAB_JAEGER_QUERY is the UI it prints.
//
// Fault injection: -admin 127.0.0.1:0 serves POST /fault?delay=1500ms (and DELETE /fault) on loopback, which
// slows every call the payment service answers; `labctl demo` uses it for its "slow payment" scenario.
// -prefix renames the Consul services, the topic and the databases, so two systems can share the servers.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"

	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/obs"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order"
	"github.com/gomicrolab/microlab/chapters/11-capstone/system"
	"github.com/gomicrolab/microlab/chapters/11-capstone/user"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN of the server (default $LAB_MYSQL_DSN)")
	consul := flag.String("consul", envOr("LAB_CONSUL_ADDR", "127.0.0.1:8500"), "Consul HTTP API host:port (default $LAB_CONSUL_ADDR)")
	brokers := flag.String("brokers", os.Getenv("LAB_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	httpAddr := flag.String("http", "127.0.0.1:8080", "gateway listen address")
	grpcAddrs := map[string]*string{
		system.UserService:    flag.String("user", "127.0.0.1:7101", "user service gRPC listen address"),
		system.OrderService:   flag.String("order", "127.0.0.1:7102", "order service gRPC listen address"),
		system.PaymentService: flag.String("payment", "127.0.0.1:7103", "payment service gRPC listen address"),
	}
	only := flag.String("only", "", "run only these parts, comma-separated, out of gateway,user,order,payment (default all); "+
		"the parts find each other in Consul, so the system can run as several processes")
	admin := flag.String("admin", "", "serve the admin endpoint (POST /fault?delay=1500ms slows every call of the services "+
		"this process runs; DELETE /fault clears it) on this loopback address, e.g. 127.0.0.1:0; off by default")
	redisAddr := flag.String("redis", os.Getenv("LAB_REDIS_ADDR"), "Redis host:port for the user service's cache (default $LAB_REDIS_ADDR; empty: no cache)")
	payWithin := flag.Duration("pay-within", 15*time.Minute, "cancel an order left unpaid this long: close its payment, release its stock, publish OrderCancelled (0: never)")
	prefix := flag.String("prefix", "capstone-", "prefix of the Consul service names, the topic and (with - as _) the databases")
	flag.Parse()
	if *dsn == "" || *brokers == "" {
		fmt.Fprintln(os.Stderr, "usage: capstone [-dsn DSN] [-consul host:port] [-brokers host:port,...]  (or eval \"$(go run ./labctl infra up mysql consul kafka)\" first)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addrs := map[string]string{}
	for name, a := range grpcAddrs {
		addrs[name] = *a
	}
	var parts []string
	if *only != "" {
		parts = strings.Split(*only, ",")
	}
	gin.SetMode(gin.ReleaseMode)
	if err := run(ctx, options{parts: parts, dsn: *dsn, consul: *consul, brokers: strings.Split(*brokers, ","),
		httpAddr: *httpAddr, grpcAddrs: addrs, otlp: os.Getenv("LAB_JAEGER_OTLP"),
		jaegerUI: envOr("LAB_JAEGER_QUERY", "http://127.0.0.1:16686"), admin: *admin, prefix: *prefix, redis: *redisAddr, payWithin: *payWithin}); err != nil {
		log.Fatal(err)
	}
}

// options are the command line's settings.
type options struct {
	parts          []string
	dsn, consul    string
	brokers        []string
	httpAddr       string
	grpcAddrs      map[string]string
	otlp, jaegerUI string
	admin, prefix  string
	redis          string
	payWithin      time.Duration
}

func run(ctx context.Context, o options) error {
	parts, dsn, consul, brokers, otlp, jaegerUI := o.parts, o.dsn, o.consul, o.brokers, o.otlp, o.jaegerUI
	logger := obs.NewLogger(os.Stdout, zapcore.InfoLevel)
	defer func() { _ = logger.Sync() }()
	var tracer func(string) trace.TracerProvider
	traces := "off (set LAB_JAEGER_OTLP to send them to Jaeger)"
	if otlp != "" {
		providers := map[string]*sdktrace.TracerProvider{}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, tp := range providers {
				_ = tp.Shutdown(sctx) // flushes the last spans
			}
		}()
		for _, svc := range []string{"gateway", system.UserService, system.OrderService, system.PaymentService} {
			exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(otlp), otlptracegrpc.WithInsecure())
			if err != nil {
				return fmt.Errorf("otlp exporter: %w", err)
			}
			providers[svc] = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
				sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", svc))))
		}
		tracer = func(svc string) trace.TracerProvider { return providers[svc] }
		traces = jaegerUI + "  (services gateway, user, order, payment)"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dsns := map[string]string{}
	for _, svc := range []string{system.UserService, system.OrderService, system.PaymentService} {
		if len(parts) > 0 && !slices.Contains(parts, svc) {
			continue
		}
		d, err := database(ctx, dsn, strings.ReplaceAll(o.prefix, "-", "_")+svc)
		if err != nil {
			return err
		}
		dsns[svc] = d
	}
	var paymentOpts []grpc.ServerOption
	if o.admin != "" {
		f := &fault{}
		a, err := serveAdmin(ctx, o.admin, f)
		if err != nil {
			return err
		}
		paymentOpts = append(paymentOpts, grpc.ChainUnaryInterceptor(f.unary))
		fmt.Printf("admin endpoint http://%s/fault (POST ?delay=1500ms slows the payment service, DELETE clears)\n", a)
	}
	var cache *user.Cache
	if o.redis != "" && (len(parts) == 0 || slices.Contains(parts, system.UserService)) {
		rdb := redis.NewClient(&redis.Options{Addr: o.redis, DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}) // a hung Redis costs a read 200ms, not 3s
		defer rdb.Close()
		cache = &user.Cache{Redis: rdb, Prefix: o.prefix, TTL: 10 * time.Minute, Jitter: 2 * time.Minute, MissTTL: 30 * time.Second,
			OnError: func(err error) { logger.Warn("user cache: Redis failed, reading the database", zap.Error(err)) }}
		fmt.Printf("user cache: Redis %s, keys %suser:<id>\n", o.redis, o.prefix)
	}
	sys, err := system.Start(ctx, system.Config{
		UserDSN: dsns[system.UserService], OrderDSN: dsns[system.OrderService], PaymentDSN: dsns[system.PaymentService],
		ConsulAddr: consul, Prefix: o.prefix, Brokers: brokers, Topic: o.prefix + "order-events", GatewayAddr: o.httpAddr,
		GRPCAddrs: o.grpcAddrs, PaymentOptions: paymentOpts,
		OnRelayError: func(err error) { logger.Warn("outbox relay failed", zap.Error(err)) },
		Tracer:       tracer, Metrics: reg, Logger: logger, Parts: parts, UserCache: cache, OrderExpiry: order.ExpiryFor(o.payWithin),
		OnOrderExpired: func(id int64, status string, err error) {
			if err != nil {
				logger.Warn("expiring an unpaid order failed; it stays pending", zap.Int64("order_id", id), zap.Error(err))
				return
			}
			logger.Info("unpaid order expired", zap.Int64("order_id", id), zap.String("status", status))
		},
	})
	if err != nil {
		return err
	}
	if len(parts) > 0 {
		fmt.Printf("capstone parts %s are running (Ctrl-C stops them)\n", strings.Join(parts, ","))
		if sys.GatewayURL != "" {
			fmt.Printf("  gateway (HTTP)   %s   metrics %s/metrics\n", sys.GatewayURL, sys.GatewayURL)
		}
		for _, svc := range []string{system.UserService, system.OrderService, system.PaymentService} {
			if a := sys.GRPC[svc]; a != "" {
				fmt.Printf("  %-7s (gRPC)   %s   in Consul as %s%s\n", svc, a, o.prefix, svc)
			}
		}
		<-ctx.Done()
		fmt.Println("stopping: each service leaves Consul, drains, then stops")
		return sys.Stop()
	}
	fmt.Printf(`capstone is running (Ctrl-C stops it)
  gateway (HTTP)   %s          try: curl -s -XPOST %s/users -d '{"name":"ada","email":"ada@example.com"}'
  user    (gRPC)   %s   grpcurl -plaintext %s list
  order   (gRPC)   %s
  payment (gRPC)   %s
  Consul           http://%s/ui   consul catalog services -http-addr=%s   (capstone-user, capstone-order, capstone-payment)
  Kafka            %s   topic capstone-order-events (OrderPlaced, OrderPaid, OrderCancelled)
  MySQL            databases capstone_user, capstone_order (with its outbox table), capstone_payment
  metrics          %s/metrics
  traces           %s
  logs             JSON lines below, trace_id on every request line
`, sys.GatewayURL, sys.GatewayURL, sys.GRPC[system.UserService], sys.GRPC[system.UserService],
		sys.GRPC[system.OrderService], sys.GRPC[system.PaymentService], consul, consul, strings.Join(brokers, ","),
		sys.GatewayURL, traces)
	<-ctx.Done()
	fmt.Println("stopping: each service leaves Consul, drains, then stops")
	return sys.Stop()
}

// database creates name on dsn's server if it is missing and returns a DSN for it.
func database(ctx context.Context, dsn, name string) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("parse DSN: %w", err)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", err
	}
	defer db.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	cfg.DBName = name
	return cfg.FormatDSN(), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
