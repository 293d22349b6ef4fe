// Command obsdemo runs chapter 09's system on loopback: the HTTP gateway, the gRPC order service and the
// shipping consumer, connected through Kafka, each exporting its spans over OTLP to Jaeger as its own service
// (gateway, orders, shipping). From the repository root:
//
//	go run ./chapters/09-observability/cmd/obsdemo
//	curl -s -XPOST localhost:8099/orders/o-1/confirm
//	grpcurl -plaintext -d '{"id":"o-2"}' localhost:50099 obs.orders.v1.OrderService/ConfirmOrder
//
// then open the Jaeger UI (http://127.0.0.1:16686), pick the service "gateway" and find the trace, or open
// the trace id that the shipping consumer prints in its log line directly: http://127.0.0.1:16686/trace/<trace_id>.
//
// Environment: LAB_JAEGER_OTLP (OTLP/gRPC endpoint, default 127.0.0.1:4317), LAB_JAEGER_QUERY (the UI and query
// API, default http://127.0.0.1:16686), LAB_KAFKA_BROKERS (comma-separated; without it an in-process Kafka, kfake,
// runs). Start a Jaeger with `eval "$(go run ./labctl infra up jaeger)"` (it exports these variables; build the
// binary once with `go run ./labctl infra install jaeger`), or run any Jaeger v2 all-in-one with OTLP enabled.
package main

import (
	"context"
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

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	ordersv1 "github.com/gomicrolab/microlab/chapters/09-observability/gen/obs/orders/v1"
	"github.com/gomicrolab/microlab/chapters/09-observability/logging"
	"github.com/gomicrolab/microlab/chapters/09-observability/tracing"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:8099", "gateway listen address")
	grpcAddr := flag.String("grpc", "127.0.0.1:50099", "order service listen address")
	topic := flag.String("topic", "orders", "Kafka topic of order events")
	flag.Parse()
	otlp := envOr("LAB_JAEGER_OTLP", "127.0.0.1:4317")
	ui := envOr("LAB_JAEGER_QUERY", "http://127.0.0.1:16686")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr, *grpcAddr, *topic, otlp, ui); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, httpAddr, grpcAddr, topic, otlp, ui string) error {
	// The logger, built in one place (09-logging), with the trace id on every line inside a request.
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	logger := logging.New(os.Stdout, logging.Config{Level: level,
		Sampling: &logging.Sampling{Tick: time.Second, First: 100, Thereafter: 100}})
	defer func() { _ = logger.Sync() }()

	gin.SetMode(gin.ReleaseMode)
	tracing.SetupPropagation()
	providers := map[string]*sdktrace.TracerProvider{}
	for _, service := range []string{"gateway", "orders", "shipping"} {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(otlp), otlptracegrpc.WithInsecure())
		if err != nil {
			return fmt.Errorf("OTLP exporter for %s: %w", service, err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
			sdktrace.WithResource(tracing.Resource(service)))
		providers[service] = tp
		defer func() { // flush the last spans on Ctrl-C
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx)
		}()
	}

	brokers, closeKafka, err := kafka(ctx, topic)
	if err != nil {
		return err
	}
	defer closeKafka()

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer producer.Close()
	lis, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	orders := providers["orders"]
	srv := tracing.NewGRPCServer(orders, &tracing.OrderServer{Tracer: tracing.Tracer(orders), Producer: producer, Topic: topic})
	go func() { _ = srv.Serve(lis) }()
	defer srv.GracefulStop()

	conn, err := tracing.Dial(lis.Addr().String(), providers["gateway"])
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	gw := tracing.NewGateway(providers["gateway"], ordersv1.NewOrderServiceClient(conn))
	// Operators change the log level of the live process: curl -XPUT localhost:8099/log/level -d level=debug.
	setLevel := func(c *gin.Context) { level.ServeHTTP(c.Writer, c.Request) }
	gw.GET("/log/level", setLevel)
	gw.PUT("/log/level", setLevel)
	// Metrics: the chapter's metrics section mounts its Prometheus handler on this engine (GET /metrics).
	httpSrv := &http.Server{Addr: httpAddr, Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := httpSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("gateway: %v", err)
		}
	}()
	defer func() { _ = httpSrv.Shutdown(context.Background()) }()

	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic))
	if err != nil {
		return err
	}
	defer consumer.Close()
	shipping := tracing.Tracer(providers["shipping"])
	go func() {
		_ = tracing.Consume(ctx, shipping, consumer, func(ctx context.Context, r *kgo.Record) error {
			_, span := shipping.Start(ctx, "ship order")
			defer span.End()
			logging.FromContext(ctx, logger).Info("shipping order", zap.ByteString("key", r.Key), zap.ByteString("event", r.Value))
			return nil
		})
	}()

	fmt.Printf(`obsdemo is running (Ctrl-C stops it)
  gateway       http://%[1]s   POST /orders/:id/confirm
  order service %[2]s  gRPC with reflection
  Kafka         %[3]s  topic %[4]q
  traces        OTLP/gRPC to %[5]s as services gateway, orders, shipping

Try:
  curl -s -XPOST %[1]s/orders/o-1/confirm
  grpcurl -plaintext -d '{"id":"o-2"}' %[2]s obs.orders.v1.OrderService/ConfirmOrder
  curl -s -XPUT %[1]s/log/level -d level=debug
Then open %[6]s (service "gateway", Find Traces), or %[6]s/trace/<trace_id from the shipping log line>.
Jaeger's API: curl -s '%[6]s/api/traces?service=gateway&limit=5'
`, httpAddr, lis.Addr(), strings.Join(brokers, ","), topic, otlp, ui)
	<-ctx.Done()
	return nil
}

// kafka returns LAB_KAFKA_BROKERS, or starts an in-process broker, and makes sure topic exists.
func kafka(ctx context.Context, topic string) ([]string, func(), error) {
	closeFn := func() {}
	var brokers []string
	if env := os.Getenv("LAB_KAFKA_BROKERS"); env != "" {
		brokers = strings.Split(env, ",")
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
		if err != nil {
			return nil, nil, fmt.Errorf("in-process Kafka: %w", err)
		}
		brokers, closeFn = c.ListenAddrs(), c.Close
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(tctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		closeFn()
		return nil, nil, fmt.Errorf("create topic %s on %v: %w", topic, brokers, err)
	}
	return brokers, closeFn, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
