package tracing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gomicrolab/microlab/chapters/09-observability/tracing"
	"github.com/gomicrolab/microlab/infra"
)

// jaegerTrace is the part of Jaeger's query API answer (GET /api/traces/<trace id>) that the test reads.
type jaegerTrace struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
			References    []struct {
				RefType string `json:"refType"`
				TraceID string `json:"traceID"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			Tags []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// getTrace asks Jaeger for one trace. Jaeger answers 404 until the trace is stored.
func getTrace(queryURL, traceID string) (*jaegerTrace, int, error) {
	resp, err := http.Get(queryURL + "/api/traces/" + traceID)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	var jt jaegerTrace
	if err := json.NewDecoder(resp.Body).Decode(&jt); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("decode /api/traces/%s: %w", traceID, err)
	}
	return &jt, resp.StatusCode, nil
}

// This file sorts last so that, under -failfast, a broken hop is reported by the focused in-memory tests first.

// TestTracingJaegerShowsTheWholeTrace exports the same trace over OTLP/gRPC to a real Jaeger and reads it
// back through the query API, span by span: what you see in the Jaeger UI is what the in-memory test proved.
func TestTracingJaegerShowsTheWholeTrace(t *testing.T) {
	ep := infra.Jaeger(t)
	s := startSystem(t, func(service string) []sdktrace.TracerProviderOption {
		exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(ep.OTLPGRPC), otlptracegrpc.WithInsecure())
		require.NoError(t, err)
		// A syncer exports each span when it ends: nothing waits in a batch when the test reads Jaeger.
		return []sdktrace.TracerProviderOption{sdktrace.WithSyncer(exp), sdktrace.WithResource(tracing.Resource(ep.Service + service))}
	})
	confirm(t, s, "o-jaeger")
	rec := readRecords(t, s.brokers, s.topic, 1)[0]
	h := &shipHandler{tracer: s.shipping}
	require.NoError(t, tracing.Process(context.Background(), s.shipping, rec, h.handle))

	send, process := tracing.SendSpanName(s.topic), tracing.ProcessSpanName(s.topic)
	spans := waitSpans(t, s.exp, "POST /orders/:id/confirm", rpcName, send, process, "ship order")
	root := one(t, spans, "POST /orders/:id/confirm")
	traceID := root.SpanContext.TraceID().String()
	var ours []sdktrace.ReadOnlySpan
	for _, sp := range spans.Snapshots() {
		if sp.SpanContext().TraceID().String() == traceID {
			ours = append(ours, sp)
		}
	}
	require.Lenf(t, ours, 6, "spans in the gateway's trace = %d, want 6 (gateway, gRPC client and server, producer, consumer, handler): "+
		"the trace broke apart before it reached Jaeger, TestTracingOneTraceFromGatewayToConsumer names the hop; spans: %s", len(ours), describe(spans))

	// Jaeger stores what it receives a moment later; poll the query API within the test's bound.
	var jt *jaegerTrace
	deadline := time.Now().Add(wait)
	for {
		got, code, err := getTrace(ep.QueryURL, traceID)
		require.NoError(t, err)
		if got != nil && len(got.Data) == 1 && len(got.Data[0].Spans) >= len(ours) {
			jt = got
			break
		}
		if time.Now().After(deadline) {
			n := 0
			if got != nil && len(got.Data) > 0 {
				n = len(got.Data[0].Spans)
			}
			t.Fatalf("GET %s/api/traces/%s: status %d, %d spans within %v, want %d: the spans did not reach Jaeger over OTLP",
				ep.QueryURL, traceID, code, n, wait, len(ours))
		}
		time.Sleep(100 * time.Millisecond)
	}

	data := jt.Data[0]
	require.Equal(t, traceID, data.TraceID)
	require.Lenf(t, data.Spans, len(ours), "Jaeger holds %d spans of trace %s, want %d", len(data.Spans), traceID, len(ours))
	type jspan struct {
		name, service, kind string
		parents             []string
	}
	stored := map[string]jspan{}
	for _, sp := range data.Spans {
		js := jspan{name: sp.OperationName, service: data.Processes[sp.ProcessID].ServiceName}
		for _, tag := range sp.Tags {
			if tag.Key == "span.kind" {
				js.kind = fmt.Sprint(tag.Value)
			}
		}
		for _, ref := range sp.References {
			require.Equal(t, traceID, ref.TraceID, "a reference of span %s points into another trace", sp.SpanID)
			if ref.RefType == "CHILD_OF" {
				js.parents = append(js.parents, ref.SpanID)
			}
		}
		stored[sp.SpanID] = js
	}
	for _, sp := range ours {
		id := sp.SpanContext().SpanID().String()
		js, ok := stored[id]
		require.Truef(t, ok, "span %q (%s) is missing in Jaeger", sp.Name(), id)
		require.Equalf(t, sp.Name(), js.name, "Jaeger's operation name of span %s", id)
		svc, _ := sp.Resource().Set().Value("service.name")
		require.Equalf(t, svc.AsString(), js.service, "Jaeger's service of span %q", sp.Name())
		if want := jaegerKind(sp.SpanKind()); want != "" {
			require.Equalf(t, want, js.kind, "Jaeger's span.kind of %q", sp.Name())
		}
		if sp.Parent().IsValid() {
			require.Equalf(t, []string{sp.Parent().SpanID().String()}, js.parents,
				"Jaeger's CHILD_OF reference of %q: the parent link must survive the trip through OTLP", sp.Name())
		} else {
			require.Emptyf(t, js.parents, "the root span %q has a parent in Jaeger", sp.Name())
		}
	}
}

// jaegerKind is how Jaeger tags a span kind; an internal span has no tag.
func jaegerKind(k trace.SpanKind) string {
	switch k {
	case trace.SpanKindServer:
		return "server"
	case trace.SpanKindClient:
		return "client"
	case trace.SpanKindProducer:
		return "producer"
	case trace.SpanKindConsumer:
		return "consumer"
	}
	return ""
}
