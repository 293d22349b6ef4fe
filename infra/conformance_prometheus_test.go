package infra

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var prometheusCases = []conformanceCase{
	{"scraped_sample_carries_namespace", promScrapedSample},
	{"namespaces_isolated", promNamespacesIsolated},
	{"cleanup_stops_scraping", promCleanupStops},
}

// metricsServer serves a fixed Prometheus text exposition at /metrics on 127.0.0.1 and returns its host:port.
func metricsServer(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// scrapeWait is how long a first scrape may take: the target file is noticed within a second or two (file
// watch, or the 2 s refresh), then the 1 s scrape interval; a loaded machine gets ten times that.
const scrapeWait = 30 * time.Second

func promQueryOne(t *testing.T, p PrometheusEndpoint, expr string) PromSample {
	t.Helper()
	var got []PromSample
	eventually(t, scrapeWait, "query "+expr, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var err error
		if got, err = p.Query(ctx, expr); err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("%d samples %v, want 1", len(got), got)
		}
		return nil
	})
	return got[0]
}

func promScrapedSample(t *testing.T, inst *Instance) {
	p := prometheusNamespace(inst)
	target := metricsServer(t, "# TYPE lab_orders_total counter\nlab_orders_total{status=\"ok\"} 42\n")
	p.Scrape(t, target)
	p.WaitScraped(t, target, scrapeWait)
	s := promQueryOne(t, p, fmt.Sprintf(`lab_orders_total{lab_ns=%q}`, p.Namespace))
	if s.Value != 42 {
		t.Errorf("lab_orders_total = %v, want 42", s.Value)
	}
	want := map[string]string{"__name__": "lab_orders_total", "status": "ok", NamespaceLabel: p.Namespace, "instance": target, "job": "lab"}
	for k, v := range want {
		if s.Metric[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, s.Metric[k], v, s.Metric)
		}
	}
	// PromQL over the scraped series works as on any server: rate needs two samples one second apart.
	promQueryOne(t, p, fmt.Sprintf(`rate(lab_orders_total{lab_ns=%q}[10s])`, p.Namespace))
}

func promNamespacesIsolated(t *testing.T, inst *Instance) {
	a, b := prometheusNamespace(inst), prometheusNamespace(inst)
	ta := metricsServer(t, "lab_queue_depth 1\n")
	tb := metricsServer(t, "lab_queue_depth 2\n")
	a.Scrape(t, ta)
	b.Scrape(t, tb)
	a.WaitScraped(t, ta, scrapeWait)
	b.WaitScraped(t, tb, scrapeWait)
	if got := promQueryOne(t, a, fmt.Sprintf(`lab_queue_depth{lab_ns=%q}`, a.Namespace)); got.Value != 1 {
		t.Errorf("namespace a sees lab_queue_depth = %v, want 1 (its own target's)", got.Value)
	}
	if got := promQueryOne(t, b, fmt.Sprintf(`lab_queue_depth{lab_ns=%q}`, b.Namespace)); got.Value != 2 {
		t.Errorf("namespace b sees lab_queue_depth = %v, want 2 (its own target's)", got.Value)
	}
}

// promCleanupStops checks that a target is dropped when the test that added it ends: Prometheus marks its
// series stale, so an instant query stops returning them.
func promCleanupStops(t *testing.T, inst *Instance) {
	p := prometheusNamespace(inst)
	target := metricsServer(t, "lab_alive 1\n")
	t.Run("scrape", func(t *testing.T) {
		p.Scrape(t, target)
		p.WaitScraped(t, target, scrapeWait)
	})
	expr := fmt.Sprintf(`up{lab_ns=%q}`, p.Namespace)
	eventually(t, scrapeWait, "the target's series go stale after its test's cleanup", func() error {
		got, err := p.Query(t.Context(), expr)
		if err != nil {
			return err
		}
		if len(got) != 0 {
			return fmt.Errorf("%s still returns %v", expr, got)
		}
		return nil
	})
}
