package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/09-observability/metrics"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

// promVector is an instant vector from Prometheus' HTTP API.
type promVector []struct {
	Metric map[string]string
	Value  float64
}

// promQuery evaluates expr now through /api/v1/query.
func promQuery(ctx context.Context, base, expr string) (promVector, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: decode: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", expr, body.Error)
	}
	var out promVector
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %q: %w", expr, s, err)
		}
		out = append(out, struct {
			Metric map[string]string
			Value  float64
		}{r.Metric, v})
	}
	return out, nil
}

// eventually polls expr until ok accepts the vector, and fails with the last answer after the deadline. Scrapes
// happen about every second, and rate() needs two of them, so answers appear after a few seconds; the minute is
// for a loaded machine.
func eventually(t *testing.T, base, ns, expr string, ok func(promVector) error) promVector {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := promQuery(ctx, base, expr)
		cancel()
		if err == nil {
			if err = ok(v); err == nil {
				return v
			}
		}
		if time.Now().After(deadline) {
			// Say whether Prometheus could scrape at all: a /metrics with tens of thousands of series (one per raw
			// path) does not fit in the one-second scrape timeout, and then there is no data to query.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			up, _ := promQuery(ctx, base, fmt.Sprintf(`up{%s}`, ns))
			samples, _ := promQuery(ctx, base, fmt.Sprintf(`scrape_samples_scraped{%s}`, ns))
			cancel()
			t.Fatalf("PromQL %s on a real Prometheus did not give the expected answer within 60s: %v (last answer: %v); up = %v, scrape_samples_scraped = %v",
				expr, err, v, values(up), values(samples))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func values(v promVector) []float64 {
	var out []float64
	for _, s := range v {
		out = append(out, s.Value)
	}
	return out
}

func TestMetricsPrometheus(t *testing.T) {
	prom := infra.Prometheus(t)
	s := newServer(t)

	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(s.reg))
	mux.Handle("/", s.engine)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()
	prom.Scrape(t, addr)

	// Traffic until the end of the test: orders by id, a slow route, and a scanner's random paths.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(stop)
	get := func(path string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	loop := func(next func(i int) string, pause time.Duration) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				get(next(i))
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
	loop(func(i int) string { return fmt.Sprintf("/orders/%d", i) }, 20*time.Millisecond)
	loop(func(int) string { return fmt.Sprintf("/scan/%x", rand.Uint64()) }, 20*time.Millisecond)
	loop(func(int) string { return "/slow" }, 0)

	ns := fmt.Sprintf("%s=%q", "lab_ns", prom.Namespace)
	t.Run("requests per second by route template", func(t *testing.T) {
		want := []string{"/orders/:id", "/slow", metrics.UnmatchedRoute}
		expr := fmt.Sprintf(`sum by (route) (rate(%s{%s}[10s]))`, metrics.RequestsName, ns)
		v := eventually(t, prom.URL, ns, expr, func(v promVector) error {
			for _, s := range v {
				if !slices.Contains(want, s.Metric["route"]) {
					return nil // a route label that must not exist: stop waiting and report it below
				}
			}
			for _, r := range want {
				if !slices.ContainsFunc(v, func(s struct {
					Metric map[string]string
					Value  float64
				}) bool {
					return s.Metric["route"] == r && s.Value > 0
				}) {
					return fmt.Errorf("no positive rate for route %q yet", r)
				}
			}
			return nil
		})
		var got []string
		for _, s := range v {
			got = append(got, s.Metric["route"])
		}
		sort.Strings(got)
		if len(got) > 8 {
			got = append(got[:8], fmt.Sprintf("... %d more", len(got)-8))
		}
		require.Equal(t, want, got, "%s: the routes Prometheus sees, want only the templates and %q: raw paths (/orders/17, /scan/…) are one series each, and Prometheus keeps every one", expr, metrics.UnmatchedRoute)
	})
	t.Run("median latency of the slow route", func(t *testing.T) {
		// The bucket that holds the handler's sleep: the median lies at or above its lower bound.
		var lower float64
		for _, b := range histogramOf(t, s.reg, "/slow").GetBucket() {
			if b.GetUpperBound() < slowSleep.Seconds() {
				lower = b.GetUpperBound()
			}
		}
		expr := fmt.Sprintf(`histogram_quantile(0.5, sum by (le) (rate(%s_bucket{%s, route="/slow"}[10s])))`, metrics.DurationName, ns)
		v := eventually(t, prom.URL, ns, expr, func(v promVector) error {
			if len(v) != 1 || math.IsNaN(v[0].Value) {
				return errors.New("no median yet")
			}
			return nil
		})
		q := v[0].Value
		require.True(t, q >= lower && q <= 1,
			"%s = %v, want between %v and 1 (s): GET /slow sleeps %v, so its median lies in the bucket that holds %v; a value far above means the observations are not in seconds or not in the buckets",
			expr, q, lower, slowSleep, slowSleep)
	})
}
