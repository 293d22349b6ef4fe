// Command obsdemo runs chapter 09's system on loopback: the HTTP gateway, the gRPC order service and the
// shipping consumer, connected through Kafka, each exporting its spans over OTLP to Jaeger as its own service
// (gateway, orders, shipping). The gateway also carries the RED metrics of 09-metrics in its own registry and
// serves them at GET /metrics. From the repository root:
//
//	go run ./chapters/09-observability/cmd/obsdemo
//	curl -s -XPOST localhost:8099/orders/o-1/confirm
//	grpcurl -plaintext -d '{"id":"o-2"}' localhost:50099 obs.orders.v1.OrderService/ConfirmOrder
//	curl -s localhost:8099/metrics | grep ^http_
//
// then open the Jaeger UI (http://127.0.0.1:16686), pick the service "gateway" and find the trace, or open
// the trace id that the shipping consumer prints in its log line directly: http://127.0.0.1:16686/trace/<trace_id>.
//
// Environment: LAB_JAEGER_OTLP (OTLP/gRPC endpoint, default 127.0.0.1:4317), LAB_JAEGER_QUERY (the UI and query
// API, default http://127.0.0.1:16686), LAB_KAFKA_BROKERS (comma-separated; without it an in-process Kafka, kfake,
// runs), LAB_PROMETHEUS_SD_DIR and LAB_PROMETHEUS_URL (the lab's Prometheus: obsdemo adds itself as a scrape
// target, job "obsdemo"). Start both with `eval "$(go run ./labctl infra up jaeger prometheus)"` (it exports
// these variables; build the Jaeger binary once with `go run ./labctl infra install jaeger`), or run any Jaeger v2
// all-in-one with OTLP enabled.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	"github.com/gomicrolab/microlab/chapters/09-observability/metrics"
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
	// RED metrics (09-metrics) in the gateway's own registry, outside gin.Recovery, served at GET /metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gw := tracing.NewGateway(providers["gateway"], ordersv1.NewOrderServiceClient(conn), metrics.New(reg).Middleware())
	gw.GET("/metrics", gin.WrapH(metrics.Handler(reg)))
	// Operators change the log level of the live process: curl -XPUT localhost:8099/log/level -d level=debug.
	setLevel := func(c *gin.Context) { level.ServeHTTP(c.Writer, c.Request) }
	gw.GET("/log/level", setLevel)
	gw.PUT("/log/level", setLevel)
	httpSrv := &http.Server{Addr: httpAddr, Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := httpSrv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("gateway: %v", err)
		}
	}()
	defer func() { _ = httpSrv.Shutdown(context.Background()) }()
	promNote, removeTarget, err := scrapeTarget(httpAddr)
	if err != nil {
		return err
	}
	defer removeTarget()

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
  metrics       http://%[1]s/metrics%[7]s

Try:
  curl -s -XPOST %[1]s/orders/o-1/confirm
  grpcurl -plaintext -d '{"id":"o-2"}' %[2]s obs.orders.v1.OrderService/ConfirmOrder
  curl -s -XPUT %[1]s/log/level -d level=debug
  curl -s %[1]s/metrics | grep ^http_
Then open %[6]s (service "gateway", Find Traces), or %[6]s/trace/<trace_id from the shipping log line>.
Jaeger's API: curl -s '%[6]s/api/traces?service=gateway&limit=5'
`, httpAddr, lis.Addr(), strings.Join(brokers, ","), topic, otlp, ui, promNote)
	<-ctx.Done()
	return nil
}

// scrapeTarget adds the gateway to the lab's Prometheus when LAB_PROMETHEUS_SD_DIR is set (labctl infra up
// prometheus exports it, with LAB_PROMETHEUS_URL): that server scrapes every target listed in the JSON files of
// that directory (file_sd_configs), so obsdemo writes one, job "obsdemo", and removes it when it stops. The
// note is for the banner: where to look, or how to get a Prometheus.
func scrapeTarget(httpAddr string) (string, func(), error) {
	dir := os.Getenv("LAB_PROMETHEUS_SD_DIR")
	if dir == "" {
		return "\n                (no LAB_PROMETHEUS_SD_DIR: eval \"$(go run ./labctl infra up prometheus)\" to have it scraped)", func() {}, nil
	}
	b, err := json.Marshal([]map[string]any{{"targets": []string{httpAddr}, "labels": map[string]string{"job": "obsdemo"}}})
	if err != nil {
		return "", nil, err
	}
	// Written under another name and renamed, so that Prometheus never reads half a file.
	name := filepath.Join(dir, "obsdemo.json")
	if err := os.WriteFile(name+".tmp", b, 0o644); err != nil {
		return "", nil, fmt.Errorf("Prometheus target file: %w", err)
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		return "", nil, fmt.Errorf("Prometheus target file: %w", err)
	}
	ui := envOr("LAB_PROMETHEUS_URL", "http://127.0.0.1:9090")
	note := fmt.Sprintf("\n                scraped by the lab's Prometheus as job=\"obsdemo\" (target file %[2]s)"+
		"\n                %[1]s/targets, then %[1]s/graph: sum by (route, code) (rate(http_requests_total{job=\"obsdemo\"}[1m]))", ui, name)
	return note, func() { _ = os.Remove(name) }, nil
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
