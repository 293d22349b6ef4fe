package infra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

var jaegerCases = []conformanceCase{
	{"otlp_grpc_spans_read_back", jaegerOTLPGRPC},
	{"otlp_http_span_read_back", jaegerOTLPHTTP},
	{"unknown_trace_not_found", jaegerUnknownTrace},
	{"namespaces_differ", jaegerNamespacesDiffer},
}

// jaegerOTLPGRPC exports a parent and a child span with the OTel SDK over OTLP/gRPC and reads both back from the
// query API, with their service name, parent link and attributes.
func jaegerOTLPGRPC(t *testing.T, inst *Instance) {
	ep := jaegerNamespace(inst)
	ctx := t.Context()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(ep.OTLPGRPC), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatalf("otlptracegrpc.New(%s): %v", ep.OTLPGRPC, err)
	}
	service := ep.Service + "orders"
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := tp.Tracer("conformance")
	pctx, parent := tr.Start(ctx, "GET /orders")
	_, child := tr.Start(pctx, "SELECT orders", trace.WithAttributes(semconv.DBSystemMySQL))
	child.End()
	parent.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush spans to %s: %v", ep.OTLPGRPC, err)
	}
	traceID := parent.SpanContext().TraceID().String()
	var spans []JaegerSpan
	eventually(t, 20*time.Second, "Jaeger returns both spans of trace "+traceID, func() error {
		spans, err = ep.Trace(ctx, traceID)
		if err != nil {
			return err
		}
		if len(spans) != 2 {
			return fmt.Errorf("%d spans, want 2", len(spans))
		}
		return nil
	})
	byName := map[string]JaegerSpan{}
	for _, s := range spans {
		byName[s.Operation] = s
		if s.Service != service {
			t.Errorf("span %q has service %q, want %q", s.Operation, s.Service, service)
		}
	}
	p, c := byName["GET /orders"], byName["SELECT orders"]
	if p.SpanID != parent.SpanContext().SpanID().String() || p.ParentSpanID != "" {
		t.Errorf("root span = %+v, want span ID %s and no parent", p, parent.SpanContext().SpanID())
	}
	if c.ParentSpanID != p.SpanID {
		t.Errorf("child span's parent = %q, want the root span %q", c.ParentSpanID, p.SpanID)
	}
	if c.Tags["db.system"] != "mysql" {
		t.Errorf("child span tag db.system = %v, want mysql (tags %v)", c.Tags["db.system"], c.Tags)
	}
	services, err := ep.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(services, service) {
		t.Errorf("Services() = %v, want it to contain %s", services, service)
	}
}

// jaegerOTLPHTTP posts one span as OTLP/JSON to the HTTP receiver.
func jaegerOTLPHTTP(t *testing.T, inst *Instance) {
	ep := jaegerNamespace(inst)
	traceID, spanID := randomID(16), randomID(8)
	now := time.Now()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},
"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"http-span","kind":2,
"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`,
		ep.Service+"web", traceID, spanID, now.Add(-time.Millisecond).UnixNano(), now.UnixNano())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+ep.OTLPHTTP+"/v1/traces", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST OTLP/HTTP %s: %v", ep.OTLPHTTP, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST OTLP/HTTP %s: %s, want 200 OK", ep.OTLPHTTP, resp.Status)
	}
	eventually(t, 20*time.Second, "Jaeger returns the span posted over OTLP/HTTP", func() error {
		spans, err := ep.Trace(t.Context(), traceID)
		if err != nil {
			return err
		}
		if len(spans) != 1 || spans[0].SpanID != spanID || spans[0].Service != ep.Service+"web" || spans[0].Operation != "http-span" {
			return fmt.Errorf("spans = %+v, want one span %s named http-span from %sweb", spans, spanID, ep.Service)
		}
		return nil
	})
}

func jaegerUnknownTrace(t *testing.T, inst *Instance) {
	ep := jaegerNamespace(inst)
	_, err := ep.Trace(t.Context(), randomID(16))
	if !errors.Is(err, ErrTraceNotFound) {
		t.Fatalf("Trace(random ID) error = %v, want ErrTraceNotFound", err)
	}
}

func jaegerNamespacesDiffer(t *testing.T, inst *Instance) {
	a, b := jaegerNamespace(inst), jaegerNamespace(inst)
	if a.Service == b.Service || a.Service == "" {
		t.Fatalf("two namespaces have service prefixes %q and %q, want distinct non-empty ones", a.Service, b.Service)
	}
}
