// Package obs is chapter 09, finished and trimmed, for the capstone: the RED metrics of a Gin service (from
// 09-metrics) and a zap logger whose lines inside a request carry the trace and span ids (from 09-logging,
// without its sampling and redaction). A learner's chapter 09 may still hold TODOs, so the capstone carries
// this snapshot instead of importing it. Nothing here is an exercise.
package obs

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Metric names: the contract of chapter 09's dashboard and SLO rules.
const (
	RequestsName   = "http_requests_total"           // counter{method, route, code}
	DurationName   = "http_request_duration_seconds" // histogram{method, route}
	UnmatchedRoute = "unmatched"
	OtherMethod    = "other"
)

// Buckets are dense where the gateway's requests are (a few ms to a few hundred) and reach above its 10s timeout.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 15}

// Metrics holds the RED metrics of one HTTP server.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg, the server's own registry (never the global one).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsName, Help: "Finished HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: DurationName, Help: "HTTP request latency in seconds by method and route template.", Buckets: Buckets,
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.Requests, m.Duration)
	return m
}

// Middleware records every request once it finished, labelled by route template (never the raw path: a label
// from the client's URL is one new series per URL).
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = UnmatchedRoute
		}
		m.Requests.WithLabelValues(method(c.Request.Method), route, strconv.Itoa(c.Writer.Status())).Inc()
		m.Duration.WithLabelValues(method(c.Request.Method), route).Observe(time.Since(start).Seconds())
	}
}

func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return OtherMethod
}

// MetricsHandler serves reg's metrics in Prometheus' text format; mount it at /metrics.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Log field names (chapter 09's).
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogger writes JSON lines at level and above to w.
func NewLogger(w io.Writer, level zapcore.Level) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		MessageKey: "msg", LevelKey: "level", TimeKey: "ts", NameKey: "logger", StacktraceKey: "stacktrace",
		LineEnding: zapcore.DefaultLineEnding, EncodeLevel: zapcore.LowercaseLevelEncoder,
		EncodeTime: zapcore.RFC3339NanoTimeEncoder, EncodeDuration: zapcore.StringDurationEncoder,
	})
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level))
}

// FromContext returns base with the trace_id and span_id of the span active in ctx, or base when there is none.
func FromContext(ctx context.Context, base *zap.Logger) *zap.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return base
	}
	return base.With(zap.String(TraceIDKey, sc.TraceID().String()), zap.String(SpanIDKey, sc.SpanID().String()))
}
