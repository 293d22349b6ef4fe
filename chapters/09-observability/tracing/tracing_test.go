package tracing_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gomicrolab/microlab/chapters/09-observability/tracing"
)

const rpcName = "obs.orders.v1.OrderService/ConfirmOrder"

// tenant is the baggage a client sends with every confirm call: W3C Baggage carries it along the trace.
const tenant = "acme"

// confirm sends POST /orders/<id>/confirm to the gateway, with baggage tenant=acme, and requires 200.
func confirm(t *testing.T, s *system, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.gatewayURL+"/orders/"+id+"/confirm", nil)
	require.NoError(t, err)
	req.Header.Set("baggage", "tenant="+tenant)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equalf(t, http.StatusOK, resp.StatusCode,
		"POST /orders/%s/confirm = %d %s, want 200: ConfirmOrder publishes the order event with tracing.Publish (TODO(09-tracing) in kafka.go) and fails when it fails", id, resp.StatusCode, body)
}

// hop is one expected link of the trace: the span named child, of kind kind, has the span named parent as its parent.
type hop struct {
	child, parent string
	kind          trace.SpanKind
	remote        bool // the parent is in another process: it arrived in a header
	why           string
}

// TestTracingOneTraceFromGatewayToConsumer follows one request through every hop:
//
//	POST /orders/:id/confirm (server, gateway)
//	  -> obs.orders.v1.OrderService/ConfirmOrder (client, gateway)
//	    -> obs.orders.v1.OrderService/ConfirmOrder (server, orders)     via traceparent in gRPC metadata
//	      -> send <topic> (producer, orders)
//	        -> process <topic> (consumer, shipping)                     via traceparent in the Kafka record
//	          -> ship order (internal, shipping: the handler's own span)
func TestTracingOneTraceFromGatewayToConsumer(t *testing.T) {
	s := startSystem(t, nil)
	confirm(t, s, "o-1001")

	recs := readRecords(t, s.brokers, s.topic, 1)
	rec := recs[0]
	h := &shipHandler{tracer: s.shipping}
	require.NoError(t, tracing.Process(context.Background(), s.shipping, rec, h.handle), "Process(record) with a handler that succeeds")
	require.Equal(t, 1, h.calls, "Process must call the handler once per record")

	send, process := tracing.SendSpanName(s.topic), tracing.ProcessSpanName(s.topic)
	spans := waitSpans(t, s.exp, "POST /orders/:id/confirm", rpcName, send, process, "ship order")
	for _, sp := range spans {
		require.NotContainsf(t, sp.Name, "o-1001", "span %q is named after the raw path: name spans after the route template, or every order id becomes an operation", sp.Name)
	}

	gw := one(t, spans, "POST /orders/:id/confirm")
	require.Equal(t, trace.SpanKindServer, gw.SpanKind, "the gateway's span is a server span")
	require.Falsef(t, gw.Parent.IsValid(), "the gateway's span has parent %s, want none: it is the root of this trace", gw.Parent.SpanID())
	require.Contains(t, gw.Attributes, attribute.String("http.route", "/orders/:id/confirm"))
	traceID := gw.SpanContext.TraceID()

	// The record carries the producer's trace context, once.
	var tps []string
	for _, hd := range rec.Headers {
		if hd.Key == "traceparent" {
			tps = append(tps, string(hd.Value))
		}
	}
	require.Lenf(t, tps, 1, "record headers %v: want exactly one traceparent header, put there by Publish through RecordCarrier", rec.Headers)

	// Both gRPC spans have the same name; tell them apart by kind.
	rpcs := byName(spans, rpcName)
	named := map[string]tracetest.SpanStub{}
	for _, sp := range rpcs {
		switch sp.SpanKind {
		case trace.SpanKindClient:
			named["grpc client"] = sp
		case trace.SpanKindServer:
			named["grpc server"] = sp
		}
	}
	require.Lenf(t, named, 2, "want one client and one server span named %q; spans: %s", rpcName, describe(spans))
	named["gateway"] = gw
	named["send"] = one(t, spans, send)
	named["process"] = one(t, spans, process)
	named["ship"] = one(t, spans, "ship order")

	for _, h := range []hop{
		{"grpc client", "gateway", trace.SpanKindClient, false, "the handler passes c.Request.Context() to the gRPC call"},
		{"grpc server", "grpc client", trace.SpanKindServer, true,
			"the trace context crosses gRPC in metadata (traceparent); the default global propagator injects nothing: set it in SetupPropagation"},
		{"send", "grpc server", trace.SpanKindProducer, false,
			"Publish starts its span from the ctx it is given, with trace.WithSpanKind(trace.SpanKindProducer)"},
		{"process", "send", trace.SpanKindConsumer, true,
			"Process extracts the traceparent that Publish injected (after starting its producer span) from the record headers and starts a SpanKindConsumer span from it"},
		{"ship", "process", trace.SpanKindInternal, false,
			"Process passes the consumer span's ctx (from tracer.Start) to the handler"},
	} {
		c, p := named[h.child], named[h.parent]
		require.Equalf(t, traceID, c.SpanContext.TraceID(),
			"the %s span %q has trace id %s, want the gateway's %s: one request is one trace (%s)", h.child, c.Name, c.SpanContext.TraceID(), traceID, h.why)
		require.Equalf(t, p.SpanContext.SpanID(), c.Parent.SpanID(),
			"the %s span's parent = %s, want the %s span %s (%s); spans: %s", h.child, c.Parent.SpanID(), h.parent, p.SpanContext.SpanID(), h.why, describe(spans))
		require.Equalf(t, h.kind, c.SpanKind, "the %s span %q has kind %v, want %v: Jaeger and service maps draw edges from span kinds", h.child, c.Name, c.SpanKind, h.kind)
		require.Equalf(t, h.remote, c.Parent.IsRemote(), "the %s span's parent is remote = %v, want %v", h.child, c.Parent.IsRemote(), h.remote)
	}

	want := fmt.Sprintf("00-%s-%s-01", traceID, named["send"].SpanContext.SpanID())
	require.Equalf(t, want, tps[0], "the record's traceparent = %q, want %q: version-traceid-parentid(the producer span)-flags(sampled)", tps[0], want)

	// Baggage travels with the trace context through the same propagator: HTTP -> gRPC -> Kafka -> handler.
	require.Equalf(t, tenant, h.tenant,
		"baggage tenant in the consumer handler's ctx = %q, want %q (sent as the gateway request's baggage header): "+
			"SetupPropagation installs W3C Baggage next to Trace Context, and Publish and Process inject and extract with the global propagator", h.tenant, tenant)
}

// Publish waits for the broker: when the record cannot be produced, Publish fails, and the producer span, which
// covers the send, says so. Here no broker listens and the caller's deadline expires.
func TestTracingPublishFailureIsReturnedAndMarked(t *testing.T) {
	tracing.SetupPropagation()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := lis.Addr().String()
	require.NoError(t, lis.Close()) // nothing listens there any more: the broker is down
	cl, err := kgo.NewClient(kgo.SeedBrokers(dead))
	require.NoError(t, err)
	defer cl.Close()

	// The deadline of the gRPC call that publishes; 500ms keeps the test short, the outcome does not depend on it.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = tracing.Publish(ctx, tracing.Tracer(tp), cl, &kgo.Record{Topic: "orders", Value: []byte(`{}`)})
	require.Errorf(t, err, "Publish(broker down) = nil, want an error: Publish waits for the broker's acknowledgement (ProduceSync), "+
		"or ConfirmOrder reports success for an event that was never written")
	require.ErrorIsf(t, err, context.DeadlineExceeded, "Publish(broker down, deadline expired) = %v, want the produce error wrapped (%%w)", err)

	sends := byName(exp.GetSpans(), tracing.SendSpanName("orders"))
	require.Lenf(t, sends, 1, "producer spans after Publish returned: want 1, ended; spans: %s", describe(exp.GetSpans()))
	require.Equal(t, trace.SpanKindProducer, sends[0].SpanKind)
	require.Equalf(t, codes.Error, sends[0].Status.Code,
		"the producer span's status = %v, want Error when the produce failed: the span covers the send until the broker answers, "+
			"so end it after ProduceSync and mark the failure before", sends[0].Status.Code)
}

// Process runs inside the consumer loop: the handler's ctx carries the consumer span AND the loop's ctx, so a
// handler stops its work when the consumer shuts down.
func TestTracingProcessKeepsLoopContext(t *testing.T) {
	tracing.SetupPropagation()
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()

	loop, stop := context.WithCancel(context.Background())
	stop() // the consumer is shutting down
	var got error
	var span trace.SpanContext
	require.NoError(t, tracing.Process(loop, tracing.Tracer(tp), &kgo.Record{Topic: "orders", Value: []byte(`{}`)},
		func(ctx context.Context, _ *kgo.Record) error {
			got, span = ctx.Err(), trace.SpanContextFromContext(ctx)
			return nil
		}))
	require.Truef(t, span.IsValid(), "the handler's ctx has no span, want the consumer span")
	require.ErrorIsf(t, got, context.Canceled,
		"the handler's ctx.Err() = %v, want context.Canceled: Process extracts the trace context into the loop's ctx, not into context.Background(), "+
			"so that cancellation and deadlines reach the handler", got)
}

func TestTracingRecordWithoutTraceparentStartsNewRoot(t *testing.T) {
	tracing.SetupPropagation()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tracing.Tracer(tp)

	records := []*kgo.Record{
		{Topic: "legacy", Value: []byte(`{"order_id":"o-1"}`)}, // an old producer that never heard of tracing
		{Topic: "legacy", Value: []byte(`{"order_id":"o-2"}`), Headers: []kgo.RecordHeader{
			{Key: "traceparent", Value: []byte("00-not-a-trace-01")}, // garbage from a buggy producer
			{Key: "source", Value: []byte("batch-import")},
		}},
	}
	h := &shipHandler{tracer: tracer}
	for i, r := range records {
		require.NoErrorf(t, tracing.Process(context.Background(), tracer, r, h.handle),
			"Process(record %d without a valid traceparent): the message must still be processed", i)
	}
	require.Equal(t, 2, h.calls, "Process must call the handler for a record without trace context too")

	spans := exp.GetSpans()
	procs := byName(spans, tracing.ProcessSpanName("legacy"))
	ships := byName(spans, "ship order")
	require.Lenf(t, procs, 2, "consumer spans: want one per record; spans: %s", describe(spans))
	require.Len(t, ships, 2)
	for i := range procs {
		require.Equal(t, trace.SpanKindConsumer, procs[i].SpanKind)
		require.Truef(t, procs[i].SpanContext.IsValid(), "record %d: the consumer span has no valid context", i)
		require.Falsef(t, procs[i].Parent.IsValid(),
			"record %d: the consumer span has parent %s, want none: without a valid traceparent the consumer starts a new root", i, procs[i].Parent.SpanID())
		require.Equalf(t, procs[i].SpanContext.SpanID(), ships[i].Parent.SpanID(),
			"record %d: the handler's span has parent %s, want the consumer span %s", i, ships[i].Parent.SpanID(), procs[i].SpanContext.SpanID())
	}
	require.NotEqual(t, procs[0].SpanContext.TraceID(), procs[1].SpanContext.TraceID(), "two untraced records are two new traces")
}

func TestTracingHandlerErrorMarksConsumerSpan(t *testing.T) {
	tracing.SetupPropagation()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tracing.Tracer(tp)

	errBoom := errors.New("warehouse unavailable")
	err := tracing.Process(context.Background(), tracer, &kgo.Record{Topic: "orders", Value: []byte(`{}`)},
		func(context.Context, *kgo.Record) error { return errBoom })
	require.ErrorIsf(t, err, errBoom, "Process(handler fails) = %v, want the handler's error: the consumer loop decides on retry or dead letter from it", err)

	procs := byName(exp.GetSpans(), tracing.ProcessSpanName("orders"))
	require.Lenf(t, procs, 1, "consumer spans: %s", describe(exp.GetSpans()))
	require.Equalf(t, codes.Error, procs[0].Status.Code,
		"the consumer span's status = %v, want Error when the handler fails: Jaeger shows failed processing in red and error-based tail sampling keeps it", procs[0].Status.Code)
}

func TestTracingRecordCarrier(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("web")}}}
	c := tracing.RecordCarrier{Record: r}

	require.Equal(t, "web", c.Get("source"), "Get(an existing header)")
	require.Equal(t, "", c.Get("traceparent"), "Get(a missing header)")

	c.Set("traceparent", "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01")
	c.Set("tracestate", "vendor=1")
	require.ElementsMatchf(t, []string{"source", "traceparent", "tracestate"}, c.Keys(),
		"Keys() = %v, want every header key: some propagators (and debugging tools) iterate over Keys", c.Keys())

	// A forwarded or retried record is injected again: the new context replaces the old one.
	c.Set("traceparent", "00-cccccccccccccccccccccccccccccccc-dddddddddddddddd-01")
	n := 0
	for _, h := range r.Headers {
		if h.Key == "traceparent" {
			n++
		}
	}
	require.Equalf(t, 1, n, "after Set twice, the record has %d traceparent headers, want 1: Set replaces (headers %v)", n, r.Headers)
	require.Equal(t, "00-cccccccccccccccccccccccccccccccc-dddddddddddddddd-01", c.Get("traceparent"), "Get after Set replaced the value")
	require.Equal(t, "web", c.Get("source"), "Set must keep the other headers")

	// Round trip through the real W3C propagator.
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "send")
	defer span.End()
	out := &kgo.Record{}
	propagation.TraceContext{}.Inject(ctx, tracing.RecordCarrier{Record: out})
	got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), tracing.RecordCarrier{Record: out}))
	require.Truef(t, got.IsValid() && got.IsRemote(), "extract(inject(span)) through RecordCarrier gave %+v, want the span's context, remote", got)
	require.Equal(t, span.SpanContext().TraceID(), got.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), got.SpanID())
}

// The event on the topic is still the plain JSON the services agreed on: tracing only adds headers.
func TestTracingEventBodyUnchanged(t *testing.T) {
	s := startSystem(t, nil)
	confirm(t, s, "o-7")
	rec := readRecords(t, s.brokers, s.topic, 1)[0]
	var ev tracing.OrderEvent
	require.NoError(t, json.Unmarshal(rec.Value, &ev))
	require.Equal(t, tracing.OrderEvent{OrderID: "o-7", Type: "order.confirmed"}, ev)
	require.Equal(t, "o-7", string(rec.Key), "the record is keyed by order id")
}
