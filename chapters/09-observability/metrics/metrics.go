// Package metrics exports the RED metrics of a Gin service to Prometheus: the Rate of requests, how many are
// Errors, and their Duration. One counter and one histogram, labelled so that a dashboard can slice them by
// route and status without the number of series growing with the traffic.
package metrics

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The names and labels below are a contract: the Grafana dashboard (infra/grafana/dashboards/red.json) and the
// SLO rules of 09-slo query exactly these.
const (
	// RequestsName counts finished requests, labelled method, route and code.
	RequestsName = "http_requests_total"
	// DurationName observes request latency in seconds, labelled method and route.
	DurationName = "http_request_duration_seconds"

	// UnmatchedRoute is the route label of a request that no route matched (a 404 from the router).
	UnmatchedRoute = "unmatched"
	// OtherMethod is the method label of a request whose method is not a standard HTTP method.
	OtherMethod = "other"
)

// LatencySLO is the orders service's latency objective: 99% of requests finish within it. Its
// `le` bucket is how the SLO is measured, so it must be a bucket bound.
const LatencySLO = 300 * time.Millisecond

// Buckets are the upper bounds, in seconds, of the latency histogram.
// TODO(09-metrics): choose buckets that fit this service (see the lesson): fine below 100 ms where most requests are, an exact bound at LatencySLO, and up to the 2 s timeout.
var Buckets []float64

// Metrics holds the RED metrics of one server.
type Metrics struct {
	Requests *prometheus.CounterVec   // http_requests_total{method, route, code}
	Duration *prometheus.HistogramVec // http_request_duration_seconds{method, route}
}

// New creates the metrics and registers them with reg, the server's own registry.
func New(reg prometheus.Registerer) *Metrics {
	// TODO(09-metrics): create the counter and the histogram (names, labels and Buckets above) and register them with reg.
	return &Metrics{}
}

// Middleware records every request once it has finished. Install it before gin.Recovery, so that it sees the
// 500 that Recovery writes for a panic.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		// TODO(09-metrics): time the request, run the chain, then count it and observe its duration, labelled by method, route template and status.
		c.Next()
	}
}

// Handler serves reg's metrics in Prometheus' text format; mount it at /metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
