package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Jaeger servers of every provider are Jaeger v2 (an OpenTelemetry Collector build) all-in-one with in-memory
// storage: spans arrive over OTLP (gRPC or HTTP, without TLS) and are read back through the query API that
// the Jaeger UI uses. The storage is shared and never emptied, so a test tells its spans apart by the service
// name prefix of its endpoint.

// JaegerEndpoint is a Jaeger namespace: name every service (the OTel resource attribute service.name) with
// Service as a prefix, and look traces up by their IDs.
type JaegerEndpoint struct {
	OTLPGRPC string // host:port of the OTLP/gRPC receiver (insecure), for otlptracegrpc.WithEndpoint
	OTLPHTTP string // host:port of the OTLP/HTTP receiver (insecure), for otlptracehttp.WithEndpoint
	QueryURL string // http://127.0.0.1:port — the query API: /api/services, /api/traces/<hex id>
	Service  string // a service-name prefix unique per call, ends with "-"; the shared server keeps every test's traces
}

// Jaeger returns a namespace on a shared Jaeger v2 server. Nothing is removed at cleanup: Jaeger's in-memory
// storage cannot delete traces, and the prefix keeps tests apart.
func Jaeger(t testing.TB) JaegerEndpoint {
	t.Helper()
	return jaegerNamespace(need(t, JaegerService))
}

// Keys of Instance.Extra for Jaeger; Instance.Addr is the OTLP/gRPC receiver.
const (
	extraOTLPHTTP = "otlp_http" // host:port of the OTLP/HTTP receiver
	extraQueryURL = "query_url" // http://host:port of the query API
)

func jaegerNamespace(inst *Instance) JaegerEndpoint {
	return JaegerEndpoint{
		OTLPGRPC: inst.Addr, OTLPHTTP: inst.Extra[extraOTLPHTTP], QueryURL: inst.Extra[extraQueryURL],
		Service: "lab-" + randomID(6) + "-",
	}
}

// JaegerSpan is one span as the query API returns it.
type JaegerSpan struct {
	TraceID, SpanID string
	ParentSpanID    string // the CHILD_OF reference, empty for a root span
	Operation       string // the span name
	Service         string // service.name of the process that sent it
	Tags            map[string]any
	Start           time.Time
	Duration        time.Duration
}

// ErrTraceNotFound means that the query API does not know the trace (yet: spans are batched before storage).
var ErrTraceNotFound = errors.New("trace not found in Jaeger")

// Trace returns the spans of the trace with the given ID (32 hex digits), or an error wrapping ErrTraceNotFound.
// Exporters batch spans, so poll until the spans you expect are there.
func (j JaegerEndpoint) Trace(ctx context.Context, traceID string) ([]JaegerSpan, error) {
	var body struct {
		Data []struct {
			Spans []struct {
				TraceID    string `json:"traceID"`
				SpanID     string `json:"spanID"`
				Operation  string `json:"operationName"`
				References []struct {
					RefType string `json:"refType"`
					SpanID  string `json:"spanID"`
				} `json:"references"`
				StartTime int64  `json:"startTime"` // microseconds since the epoch
				Duration  int64  `json:"duration"`  // microseconds
				ProcessID string `json:"processID"`
				Tags      []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	status, err := getJSON(ctx, j.QueryURL+"/api/traces/"+url.PathEscape(traceID), &body)
	if status == http.StatusNotFound {
		return nil, fmt.Errorf("%s: %w", traceID, ErrTraceNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("Jaeger query API: %w", err)
	}
	var spans []JaegerSpan
	for _, tr := range body.Data {
		for _, s := range tr.Spans {
			js := JaegerSpan{
				TraceID: s.TraceID, SpanID: s.SpanID, Operation: s.Operation, Service: tr.Processes[s.ProcessID].ServiceName,
				Tags:     map[string]any{},
				Start:    time.UnixMicro(s.StartTime),
				Duration: time.Duration(s.Duration) * time.Microsecond,
			}
			for _, r := range s.References {
				if r.RefType == "CHILD_OF" {
					js.ParentSpanID = r.SpanID
				}
			}
			for _, tag := range s.Tags {
				js.Tags[tag.Key] = tag.Value
			}
			spans = append(spans, js)
		}
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("%s: %w", traceID, ErrTraceNotFound)
	}
	return spans, nil
}

// Services returns the service names Jaeger has received spans from (every test's, on a shared server).
func (j JaegerEndpoint) Services(ctx context.Context) ([]string, error) {
	var body struct {
		Data []string `json:"data"`
	}
	if _, err := getJSON(ctx, j.QueryURL+"/api/services", &body); err != nil {
		return nil, fmt.Errorf("Jaeger query API: %w", err)
	}
	return body.Data, nil
}

// getJSON GETs u and decodes a 2xx JSON answer into out; it returns the HTTP status in any case it got one.
func getJSON(ctx context.Context, u string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return resp.StatusCode, fmt.Errorf("GET %s: %s %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: decode: %w", u, err)
	}
	return resp.StatusCode, nil
}

// jaegerVersion checks that the query API answers and that the OTLP/gRPC port accepts connections. The query
// API does not report a version; the caller names what it started.
func jaegerVersion(ctx context.Context, otlpGRPC, queryURL string) (string, error) {
	var body struct {
		Data []string `json:"data"`
	}
	if _, err := getJSON(ctx, queryURL+"/api/services", &body); err != nil {
		return "", fmt.Errorf("Jaeger query API: %w", err)
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", otlpGRPC)
	if err != nil {
		return "", fmt.Errorf("Jaeger OTLP/gRPC receiver: %w", err)
	}
	_ = c.Close()
	return "Jaeger v2", nil
}

// Environment variables of the env provider for Jaeger. `labctl infra up` prints all three.
const (
	EnvJaegerOTLP     = "LAB_JAEGER_OTLP"      // host:port of the OTLP/gRPC receiver, e.g. 127.0.0.1:4317
	EnvJaegerOTLPHTTP = "LAB_JAEGER_OTLP_HTTP" // host:port of the OTLP/HTTP receiver; default: the gRPC host at port 4318
	EnvJaegerQuery    = "LAB_JAEGER_QUERY"     // URL of the query API, e.g. http://127.0.0.1:16686
)

// parseJaegerEnv reads the env provider's variables into inst.
func parseJaegerEnv(inst *Instance) error {
	grpcAddr := strings.TrimSpace(os.Getenv(EnvJaegerOTLP))
	host, _, err := net.SplitHostPort(grpcAddr)
	if err != nil {
		return fmt.Errorf("%s=%q: want host:port of the OTLP/gRPC receiver: %w", EnvJaegerOTLP, grpcAddr, err)
	}
	httpAddr := strings.TrimSpace(os.Getenv(EnvJaegerOTLPHTTP))
	if httpAddr == "" {
		httpAddr = net.JoinHostPort(host, "4318")
	}
	query := strings.TrimRight(strings.TrimSpace(os.Getenv(EnvJaegerQuery)), "/")
	if query == "" {
		query = "http://" + net.JoinHostPort(host, "16686")
	}
	if u, err := url.Parse(query); err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%s=%q: want http://host:port of the query API", EnvJaegerQuery, query)
	}
	inst.Addr = grpcAddr
	inst.Extra = map[string]string{extraOTLPHTTP: httpAddr, extraQueryURL: query}
	return nil
}

// jaegerEnv is the env provider's variables for inst.
func jaegerEnv(inst *Instance) []string {
	return []string{
		EnvJaegerOTLP + "=" + inst.Addr,
		EnvJaegerOTLPHTTP + "=" + inst.Extra[extraOTLPHTTP],
		EnvJaegerQuery + "=" + inst.Extra[extraQueryURL],
	}
}

// jaegerQueryURL is the query API's URL for a host:port.
func jaegerQueryURL(addr string) string { return "http://" + addr }

// JaegerVersion is the Jaeger that InstallJaeger builds (its v2 binary, cmd/jaeger, is versioned with v1 tags
// on the module proxy).
const JaegerVersion = "v1.76.0"

// jaegerConfig is the configuration of a native Jaeger listening on these loopback ports.
func jaegerConfig(otlpGRPC, otlpHTTP, queryHTTP, queryGRPC, metrics int) string {
	return fmt.Sprintf(jaegerConfigTemplate, otlpGRPC, otlpHTTP, queryHTTP, queryGRPC, metrics)
}

// jaegerConfigTemplate is all-in-one with in-memory storage and only what the tests need: the OTLP receivers,
// the query API, and the collector's own metrics (which listen on :8888 unless told otherwise). Every listener
// is on 127.0.0.1.
const jaegerConfigTemplate = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[5]d
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%[3]d
    grpc:
      endpoint: 127.0.0.1:%[4]d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%[1]d
      http:
        endpoint: 127.0.0.1:%[2]d
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`
