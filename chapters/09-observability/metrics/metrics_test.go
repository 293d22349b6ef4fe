package metrics_test

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/09-observability/metrics"
)

func init() { gin.SetMode(gin.TestMode) }

// slowSleep is how long GET /slow takes. 150 ms sits between two sane bounds (0.1 and 0.2, or 0.1 and 0.3).
const slowSleep = 150 * time.Millisecond

// server is a small orders API with the learner's metrics on a registry of its own.
type server struct {
	reg    *prometheus.Registry
	engine *gin.Engine
}

// newServer builds the API. The metrics middleware runs outside gin.Recovery, so it sees Recovery's 500.
func newServer(t *testing.T) *server {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := newMetrics(t, reg)
	r := gin.New()
	r.Use(m.Middleware(), gin.RecoveryWithWriter(io.Discard)) // Recovery, quietly: the panic is expected
	r.GET("/orders/:id", func(c *gin.Context) { c.String(http.StatusOK, "order %s", c.Param("id")) })
	r.POST("/orders", func(c *gin.Context) { c.String(http.StatusCreated, "created") })
	r.GET("/panic", func(c *gin.Context) { panic("handler bug") })
	r.GET("/unavailable", func(c *gin.Context) { c.String(http.StatusServiceUnavailable, "try later") })
	r.GET("/slow", func(c *gin.Context) {
		time.Sleep(slowSleep)
		c.String(http.StatusOK, "slow")
	})
	// An authorisation middleware that aborts: the handler never runs, the status is still 403.
	admin := r.Group("/admin", func(c *gin.Context) { c.AbortWithStatus(http.StatusForbidden) })
	admin.GET("/stats", func(c *gin.Context) { c.String(http.StatusOK, "secret") })
	return &server{reg: reg, engine: r}
}

// newMetrics calls metrics.New and turns a panic (a duplicate registration) into a readable failure.
func newMetrics(t *testing.T, reg *prometheus.Registry) (m *metrics.Metrics) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("metrics.New(reg) panicked: %v: register on reg, the server's own registry; the global default registry collides as soon as a second server (or test) registers the same names", p)
		}
	}()
	return metrics.New(reg)
}

// do sends one request through the engine and returns the status the client saw.
func (s *server) do(method, target string, header ...string) int {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, req)
	return w.Code
}

// series is one gathered series: its labels and its value (counter value, or histogram sample count).
type series struct {
	labels map[string]string
	metric *dto.Metric
}

// gather returns the series of the family name in reg, failing with a useful message when it is missing.
func gather(t *testing.T, reg *prometheus.Registry, name string) []series {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err, "registry.Gather()")
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		var out []series
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			out = append(out, series{labels: ls, metric: m})
		}
		return out
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	t.Fatalf("the server's registry has no %s after requests (it has %v): New must create it and register it with the registry it is given, and the middleware must record every request", name, names)
	return nil
}

// counter returns http_requests_total{method, route, code}, or 0 when that series does not exist.
func counter(t *testing.T, reg *prometheus.Registry, method, route string, code int) float64 {
	t.Helper()
	for _, s := range gather(t, reg, metrics.RequestsName) {
		if s.labels["method"] == method && s.labels["route"] == route && s.labels["code"] == fmt.Sprint(code) {
			return s.metric.GetCounter().GetValue()
		}
	}
	return 0
}

func describe(ss []series) string {
	var out []string
	for _, s := range ss {
		keys := make([]string, 0, len(s.labels))
		for k := range s.labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%s=%q", k, s.labels[k]))
		}
		out = append(out, "{"+strings.Join(kv, ",")+"}")
	}
	if len(out) > 8 {
		out = append(out[:8], fmt.Sprintf("... and %d more", len(out)-8))
	}
	return strings.Join(out, " ")
}

func labelNames(ss []series) []string {
	seen := map[string]bool{}
	for _, s := range ss {
		for k := range s.labels {
			seen[k] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestMetricsLabelNames(t *testing.T) {
	s := newServer(t)
	s.do(http.MethodGet, "/orders/1")
	s.do(http.MethodGet, "/slow")

	require.Equal(t, []string{"code", "method", "route"}, labelNames(gather(t, s.reg, metrics.RequestsName)),
		"label names of %s: the dashboard and the SLO rules group by exactly method, route and code; any other label (a user id, a path, a query) multiplies the series", metrics.RequestsName)
	require.Equal(t, []string{"method", "route"}, labelNames(gather(t, s.reg, metrics.DurationName)),
		"label names of %s: every label value of a histogram costs a series per bucket, so it carries only method and route", metrics.DurationName)
}

func TestMetricsRouteTemplate(t *testing.T) {
	s := newServer(t)
	for _, id := range []string{"1", "2", "1001"} {
		require.Equal(t, http.StatusOK, s.do(http.MethodGet, "/orders/"+id), "GET /orders/%s", id)
	}
	got := gather(t, s.reg, metrics.RequestsName)
	require.Len(t, got, 1, "%s series after GET /orders/1, /orders/2, /orders/1001 = %s, want exactly one: the route label is the template /orders/:id (c.FullPath()), not the path", metrics.RequestsName, describe(got))
	require.Equal(t, "/orders/:id", got[0].labels["route"], "route label after GET /orders/1: the template, so that all orders are one series")
	require.Equal(t, 3.0, got[0].metric.GetCounter().GetValue(), "%s{route=\"/orders/:id\"} after 3 requests", metrics.RequestsName)

	got = gather(t, s.reg, metrics.DurationName)
	require.Len(t, got, 1, "%s series after three GET /orders/:id = %s, want one", metrics.DurationName, describe(got))
	require.Equal(t, "/orders/:id", got[0].labels["route"], "%s route label", metrics.DurationName)
	require.EqualValues(t, 3, got[0].metric.GetHistogram().GetSampleCount(), "%s sample count after 3 requests", metrics.DurationName)
}

func TestMetricsCardinality(t *testing.T) {
	const n = 200
	t.Run("random paths", func(t *testing.T) {
		s := newServer(t)
		for i := range n {
			path := fmt.Sprintf("/wp-admin/%d/%x.php", i, rand.Uint64())
			require.Equal(t, http.StatusNotFound, s.do(http.MethodGet, path), "GET %s", path)
		}
		got := gather(t, s.reg, metrics.RequestsName)
		require.Len(t, got, 1, "%s series after %d GETs of random unknown paths = %d (%s), want 1: a scanner would create one series per URL; unmatched requests share the route label %q", metrics.RequestsName, n, len(got), describe(got), metrics.UnmatchedRoute)
		require.Equal(t, metrics.UnmatchedRoute, got[0].labels["route"], "route label of a 404 from the router: want the fixed value; an empty label is the same as no label in PromQL, so the scans would hide in sum by (route)")
		require.Equal(t, "404", got[0].labels["code"], "code label of an unmatched route")
		require.Equal(t, float64(n), counter(t, s.reg, http.MethodGet, metrics.UnmatchedRoute, http.StatusNotFound), "%s{route=%q,code=\"404\"}: every 404 counts", metrics.RequestsName, metrics.UnmatchedRoute)
		require.Len(t, gather(t, s.reg, metrics.DurationName), 1, "%s series after random paths: one, with the fixed route label", metrics.DurationName)
	})
	t.Run("query strings and user ids", func(t *testing.T) {
		s := newServer(t)
		for i := range n {
			target := fmt.Sprintf("/orders/7?session=%x&page=%d", rand.Uint64(), i)
			require.Equal(t, http.StatusOK, s.do(http.MethodGet, target, "X-User-Id", fmt.Sprint(i), "X-HTTP-Method-Override", "DELETE"), "GET %s", target)
		}
		got := gather(t, s.reg, metrics.RequestsName)
		require.Len(t, got, 1, "%s series after %d GET /orders/7 with random query strings and user ids = %d (%s), want 1: no label may come from the query, a header or the user", metrics.RequestsName, n, len(got), describe(got))
		require.Equal(t, http.MethodGet, got[0].labels["method"], "method label of GET /orders/7 sent with X-HTTP-Method-Override: DELETE: the router served a GET (Gin ignores that header), so the label is the request's method, not a header the client chose")
	})
	t.Run("unknown methods", func(t *testing.T) {
		s := newServer(t)
		for i := range n {
			m := fmt.Sprintf("X%dY", i)
			require.Equal(t, http.StatusNotFound, s.do(m, "/orders/7"), "%s /orders/7", m)
		}
		got := gather(t, s.reg, metrics.RequestsName)
		require.Len(t, got, 1, "%s series after %d requests with made-up methods = %d (%s), want 1: the method is chosen by the client too; non-standard methods share the label %q", metrics.RequestsName, n, len(got), describe(got), metrics.OtherMethod)
		require.Equal(t, metrics.OtherMethod, got[0].labels["method"], "method label of a made-up method")
		s.do(http.MethodGet, "/orders/7")
		require.Equal(t, 1.0, counter(t, s.reg, http.MethodGet, "/orders/:id", http.StatusOK), "%s{method=\"GET\",route=\"/orders/:id\"} (series: %s): standard methods keep their name", metrics.RequestsName, describe(gather(t, s.reg, metrics.RequestsName)))
	})
	t.Run("standard methods keep their name", func(t *testing.T) {
		s := newServer(t)
		standard := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
			http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}
		for _, m := range standard {
			s.do(m, "/nope") // no route: a 404 for every method, so only the method label differs
		}
		for _, m := range standard {
			require.Equal(t, 1.0, counter(t, s.reg, m, metrics.UnmatchedRoute, http.StatusNotFound),
				"%s{method=%q,route=%q,code=\"404\"} after one %s request (series: %s): every standard HTTP method keeps its name; only made-up ones are %q, or a dashboard cannot tell a PUT from a DELETE",
				metrics.RequestsName, m, metrics.UnmatchedRoute, m, describe(gather(t, s.reg, metrics.RequestsName)), metrics.OtherMethod)
		}
	})
}

func TestMetricsStatusCodes(t *testing.T) {
	tests := []struct {
		name, method, target, route string
		code                        int
	}{
		{"handler writes 200", http.MethodGet, "/orders/1", "/orders/:id", http.StatusOK},
		{"handler writes 201", http.MethodPost, "/orders", "/orders", http.StatusCreated},
		{"handler writes 503", http.MethodGet, "/unavailable", "/unavailable", http.StatusServiceUnavailable},
		{"middleware aborts with 403", http.MethodGet, "/admin/stats", "/admin/stats", http.StatusForbidden},
		{"handler panics, Recovery writes 500", http.MethodGet, "/panic", "/panic", http.StatusInternalServerError},
		{"no route: 404", http.MethodGet, "/nope", metrics.UnmatchedRoute, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			require.Equal(t, tt.code, s.do(tt.method, tt.target), "%s %s: status the client saw", tt.method, tt.target)
			got := counter(t, s.reg, tt.method, tt.route, tt.code)
			require.Equal(t, 1.0, got, "%s{method=%q,route=%q,code=\"%d\"} = %v, want 1 (series: %s): count every request with the status the client received, read after the chain ran; errors are the E of RED",
				metrics.RequestsName, tt.method, tt.route, tt.code, got, tt.code, describe(gather(t, s.reg, metrics.RequestsName)))
		})
	}
}

// bucketsOf returns the histogram of the only series of DurationName.
func histogramOf(t *testing.T, reg *prometheus.Registry, route string) *dto.Histogram {
	t.Helper()
	for _, s := range gather(t, reg, metrics.DurationName) {
		if s.labels["route"] == route {
			return s.metric.GetHistogram()
		}
	}
	t.Fatalf("no %s{route=%q} after a request to it: observe every request's duration", metrics.DurationName, route)
	return nil
}

func TestMetricsLatency(t *testing.T) {
	s := newServer(t)
	start := time.Now()
	require.Equal(t, http.StatusOK, s.do(http.MethodGet, "/slow"), "GET /slow")
	took := time.Since(start).Seconds()

	h := histogramOf(t, s.reg, "/slow")
	require.EqualValues(t, 1, h.GetSampleCount(), "%s{route=\"/slow\"} sample count after one request", metrics.DurationName)
	// The observation lies between the handler's sleep and what the whole call took, measured around it.
	sum := h.GetSampleSum()
	require.True(t, sum >= slowSleep.Seconds() && sum <= took,
		"%s{route=\"/slow\"} observed %v, want between %v and %v: a handler that sleeps %v must be observed in seconds (Prometheus' base unit), timed around c.Next()",
		metrics.DurationName, sum, slowSleep.Seconds(), took, slowSleep)
	// A fast request right after it is observed as fast: the clock starts per request, in the middleware's
	// handler, not once when the middleware is built.
	start = time.Now()
	require.Equal(t, http.StatusOK, s.do(http.MethodGet, "/orders/1"), "GET /orders/1")
	tookFast := time.Since(start).Seconds()
	fast := histogramOf(t, s.reg, "/orders/:id").GetSampleSum()
	require.True(t, fast <= tookFast,
		"%s{route=\"/orders/:id\"} observed %v for a request that took %v (measured around it, after GET /slow): time each request from its own start, taken inside the handler func, not once in Middleware()",
		metrics.DurationName, fast, tookFast)
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() < slowSleep.Seconds() {
			require.Zero(t, b.GetCumulativeCount(), "bucket le=%v holds the 150 ms request: it must land in the first bucket >= 0.15", b.GetUpperBound())
		} else if b.GetUpperBound() >= took {
			require.EqualValues(t, 1, b.GetCumulativeCount(), "bucket le=%v must hold the 150 ms request (it took %.3fs)", b.GetUpperBound(), took)
		}
	}
}

func TestMetricsBuckets(t *testing.T) {
	s := newServer(t)
	s.do(http.MethodGet, "/orders/1")
	var bounds []float64
	for _, b := range histogramOf(t, s.reg, "/orders/:id").GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			bounds = append(bounds, b.GetUpperBound())
		}
	}
	require.NotEmpty(t, bounds, "%s has no bucket bounds", metrics.DurationName)
	slo := metrics.LatencySLO.Seconds()
	require.True(t, slices.Contains(bounds, slo),
		"buckets %v have no bound at LatencySLO = %v s: the share of requests within the SLO is read exactly from le=\"%v\"; without that bound it is only interpolated", bounds, slo, slo)
	require.LessOrEqual(t, bounds[0], 0.01, "smallest bucket of %v: most orders requests take 5-50 ms, so the finest bound must be 10 ms or less, or they all fall into one bucket", bounds)
	require.GreaterOrEqual(t, bounds[len(bounds)-1], 2.0, "largest bucket of %v: it must reach the 2 s timeout, so that a timed-out request does not disappear into +Inf", bounds)
	require.LessOrEqual(t, len(bounds), 15, "%d buckets: each is a series per (method, route); a dozen is plenty", len(bounds))
	// histogram_quantile interpolates linearly inside a bucket, so a wide bucket is a vague answer: from the
	// finest bound up to the timeout, no bucket may be more than 5 times as wide as the one below it.
	for i := 1; i < len(bounds) && bounds[i-1] < 2.0; i++ {
		require.LessOrEqual(t, bounds[i]/bounds[i-1], 5.0,
			"buckets %v jump from %v to %v: every request between them falls into one bucket and its quantiles are a linear guess; keep the bounds dense up to the 2 s timeout (about x2 apart, like 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5)",
			bounds, bounds[i-1], bounds[i])
	}
}

func TestMetricsRegistryPerServer(t *testing.T) {
	a, b := newServer(t), newServer(t)
	a.do(http.MethodGet, "/orders/1")
	a.do(http.MethodGet, "/orders/2")
	b.do(http.MethodGet, "/orders/3")
	require.Equal(t, 2.0, counter(t, a.reg, http.MethodGet, "/orders/:id", http.StatusOK), "server A counted: each server has its own registry and counts only its requests")
	require.Equal(t, 1.0, counter(t, b.reg, http.MethodGet, "/orders/:id", http.StatusOK), "server B counted: each server has its own registry and counts only its requests")
	n, err := testutil.GatherAndCount(prometheus.DefaultGatherer, metrics.RequestsName, metrics.DurationName)
	require.NoError(t, err)
	require.Zero(t, n, "series of %s in the global default registry = %d, want 0: register on the registry New is given", metrics.RequestsName, n)
}
