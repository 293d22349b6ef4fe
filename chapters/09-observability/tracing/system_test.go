package tracing_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	ordersv1 "github.com/gomicrolab/microlab/chapters/09-observability/gen/obs/orders/v1"
	"github.com/gomicrolab/microlab/chapters/09-observability/tracing"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no route table printed per test
	os.Exit(infra.Main(m))
}

// wait bounds every wait: records and spans on loopback arrive in milliseconds; the bound is for a loaded
// two-core machine.
const wait = 20 * time.Second

// system is the chapter's pipeline, each service with a tracer provider of its own (as in three processes),
// all exporting synchronously to one in-memory exporter.
type system struct {
	exp        *tracetest.InMemoryExporter
	gatewayURL string
	grpcAddr   string
	topic      string
	brokers    []string
	shipping   trace.Tracer // the consumer service's tracer
}

// startSystem starts gateway -> gRPC -> Kafka. more, if not nil, adds span exporters per service (Jaeger).
func startSystem(t *testing.T, more func(service string) []sdktrace.TracerProviderOption) *system {
	t.Helper()
	tracing.SetupPropagation()
	ep := infra.Kafka(t)
	s := &system{exp: tracetest.NewInMemoryExporter(), topic: ep.TopicPrefix + "orders", brokers: ep.Brokers}
	createTopic(t, ep.Brokers, s.topic)

	tp := func(service string) *sdktrace.TracerProvider {
		opts := []sdktrace.TracerProviderOption{sdktrace.WithSyncer(s.exp), sdktrace.WithResource(tracing.Resource(service))}
		if more != nil {
			opts = append(opts, more(service)...)
		}
		p := sdktrace.NewTracerProvider(opts...)
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		return p
	}
	gatewayTP, ordersTP, shippingTP := tp("gateway"), tp("orders"), tp("shipping")
	s.shipping = tracing.Tracer(shippingTP)

	producer, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...))
	if err != nil {
		t.Fatalf("kafka producer: %v", err)
	}
	t.Cleanup(producer.Close)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := tracing.NewGRPCServer(ordersTP, &tracing.OrderServer{Tracer: tracing.Tracer(ordersTP), Producer: producer, Topic: s.topic})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	s.grpcAddr = lis.Addr().String()

	conn, err := tracing.Dial(s.grpcAddr, gatewayTP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	gw := httptest.NewServer(tracing.NewGateway(gatewayTP, ordersv1.NewOrderServiceClient(conn)))
	t.Cleanup(gw.Close)
	s.gatewayURL = gw.URL
	return s
}

func createTopic(t *testing.T, brokers []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// readRecords reads topic from its start until it has n records, or fails after wait.
func readRecords(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d records of %d within %v: did Publish produce the order event?", topic, len(out), n, wait)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// shipHandler is the shipping service's handler: it starts a span of its own from the ctx Process gives it,
// and notes the tenant it finds in the ctx's baggage.
type shipHandler struct {
	tracer trace.Tracer
	mu     sync.Mutex
	calls  int
	tenant string
}

func (h *shipHandler) handle(ctx context.Context, r *kgo.Record) error {
	_, span := h.tracer.Start(ctx, "ship order")
	span.End()
	h.mu.Lock()
	h.calls++
	h.tenant = baggage.FromContext(ctx).Member("tenant").Value()
	h.mu.Unlock()
	return nil
}

// waitSpans waits until the exporter holds every span named in names (spans end a little after the response
// that a client sees: a gRPC server span ends after the reply is sent) and returns the spans.
func waitSpans(t *testing.T, exp *tracetest.InMemoryExporter, names ...string) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		spans := exp.GetSpans()
		missing := ""
		for _, n := range names {
			if len(byName(spans, n)) == 0 {
				missing = n
				break
			}
		}
		if missing == "" {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span named %q was exported within %v; spans: %s", missing, wait, describe(spans))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func byName(spans tracetest.SpanStubs, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span named name and fails when there is none or more than one.
func one(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	got := byName(spans, name)
	if len(got) != 1 {
		t.Fatalf("spans named %q: %d, want 1; spans: %s", name, len(got), describe(spans))
	}
	return got[0]
}

func describe(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %q kind=%v trace=%s span=%s parent=%s", s.Name, s.SpanKind,
			s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID())
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
