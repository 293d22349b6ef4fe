// Package metrics exports the RED metrics of a Gin service to Prometheus: the Rate of requests, how many are
// Errors, and their Duration. One counter and one histogram, labelled so that a dashboard can slice them by
// route and status without the number of series growing with the traffic.
package metrics

import (
	"net/http"
	"strconv"
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
// The orders service answers most requests in 5-50 ms, its SLO is 300 ms and its timeout is 2 s. So the
// bounds are dense where the requests are and around the SLO (histogram_quantile interpolates linearly
// inside a bucket: a wide bucket is a vague answer), 0.3 is a bound (the share of requests under the SLO is
// read exactly from le="0.3"), and the top bound 5 s is above the timeout, so a timed-out request still
// lands in a finite bucket. 11 bounds give 13 series per (method, route): every bucket is a series.
var Buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5}

// Metrics holds the RED metrics of one server.
type Metrics struct {
	Requests *prometheus.CounterVec   // http_requests_total{method, route, code}
	Duration *prometheus.HistogramVec // http_request_duration_seconds{method, route}
}

// New creates the metrics and registers them with reg, the server's own registry.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsName, Help: "Finished HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		// No code label on the histogram: each label value multiplies len(Buckets)+2 series.
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: DurationName, Help: "HTTP request latency in seconds by method and route template.", Buckets: Buckets,
		}, []string{"method", "route"}),
	}
	// The server's own registry, never prometheus.DefaultRegisterer: two servers in one process (or two
	// tests) would collide on the global one, and a test could not tell whose requests it counts.
	reg.MustRegister(m.Requests, m.Duration)
	return m
}

// Middleware records every request once it has finished. Install it before gin.Recovery, so that it sees the
// 500 that Recovery writes for a panic.
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next() // the status and the latency exist only after the rest of the chain ran
		m.Requests.WithLabelValues(method(c.Request.Method), route(c), strconv.Itoa(c.Writer.Status())).Inc()
		m.Duration.WithLabelValues(method(c.Request.Method), route(c)).Observe(time.Since(start).Seconds())
	}
}

// route is the route template (/orders/:id), never the raw path: the path is chosen by the client, so a label
// from it is one new series per distinct URL (a scanner makes millions). Unmatched requests share one label.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return UnmatchedRoute
}

// method keeps the method label bounded too: a client can send any token as the method.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return OtherMethod
}

// Handler serves reg's metrics in Prometheus' text format; mount it at /metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
