package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus servers of every provider scrape the targets listed in the JSON files of one directory
// (file_sd_configs), every second. Scrape writes one file per call and removes it at cleanup; Prometheus
// watches the directory, so a target is picked up within a second or two. The file gives the target the label
// lab_ns=<Namespace>, which Prometheus attaches to every series it scrapes from there: that is how a test finds
// its own series on the shared server.

// PrometheusEndpoint is a Prometheus namespace: the series of the targets added with Scrape carry the label
// lab_ns="<Namespace>"; select on it in every query.
type PrometheusEndpoint struct {
	URL       string // http://127.0.0.1:port — the HTTP API (/api/v1/query) of a shared Prometheus
	Namespace string // unique per call: every series scraped through Scrape carries the label lab_ns="<Namespace>"

	sdDir string // the file_sd directory the server reads
}

// NamespaceLabel is the label that Scrape gives every series of its targets.
const NamespaceLabel = "lab_ns"

// PrometheusScrapeInterval is how often the servers of every provider scrape (scrape_interval), and how often
// they evaluate rules.
const PrometheusScrapeInterval = time.Second

// Prometheus returns a namespace on a shared Prometheus. Its series stay in the server's storage after the
// test; the namespace label keeps tests apart.
func Prometheus(t testing.TB) PrometheusEndpoint {
	t.Helper()
	return prometheusNamespace(need(t, PrometheusService))
}

func prometheusNamespace(inst *Instance) PrometheusEndpoint {
	return PrometheusEndpoint{URL: inst.Extra[extraURL], Namespace: "lab-" + randomID(6), sdDir: inst.Extra[extraSDDir]}
}

// Keys of Instance.Extra for Prometheus; Instance.Addr is the HTTP API's host:port.
const (
	extraURL   = "url"    // http://host:port of the HTTP API
	extraSDDir = "sd_dir" // the file_sd directory the server watches
)

// Scrape adds target (host:port, path /metrics) to Prometheus until t's cleanup; scraped about every second.
// Use WaitScraped to wait for the first scrape.
func (p PrometheusEndpoint) Scrape(t testing.TB, target string) {
	t.Helper()
	if _, _, err := net.SplitHostPort(target); err != nil {
		t.Fatalf("Prometheus.Scrape(%q): want host:port: %v", target, err)
	}
	if p.sdDir == "" {
		t.Fatalf("%s Prometheus at %s: no scrape-target directory to write to; with %s set, set %s too (the directory "+
			"that the server's file_sd_configs read, files: [DIR/*.json], scrape_interval: 1s)", UnavailablePrefix, p.URL, EnvPrometheusURL, EnvPrometheusSDDir)
	}
	group := []map[string]any{{"targets": []string{target}, "labels": map[string]string{NamespaceLabel: p.Namespace}}}
	b, err := json.Marshal(group)
	if err != nil {
		t.Fatalf("Prometheus.Scrape: %v", err)
	}
	// Written under another name and renamed, so that Prometheus never reads half a file.
	name := filepath.Join(p.sdDir, p.Namespace+"-"+randomID(4)+".json")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatalf("%s Prometheus.Scrape(%s): write target file: %v", UnavailablePrefix, target, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		t.Fatalf("%s Prometheus.Scrape(%s): %v", UnavailablePrefix, target, err)
	}
	t.Cleanup(func() {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Logf("infra: remove Prometheus target file %s: %v", name, err)
		}
	})
}

// WaitScraped waits until Prometheus has scraped target through this namespace successfully at least once
// (up{lab_ns=…, instance=target} is 1), and fails the test after timeout.
func (p PrometheusEndpoint) WaitScraped(t testing.TB, target string, timeout time.Duration) {
	t.Helper()
	expr := fmt.Sprintf(`up{%s=%q, instance=%q}`, NamespaceLabel, p.Namespace, target)
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		samples, err := p.Query(ctx, expr)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case len(samples) == 0:
			last = "no up series yet (the target file is read within a second or two)"
		case samples[0].Value != 1:
			last = fmt.Sprintf("up = %v: the scrape of http://%s/metrics fails", samples[0].Value, target)
		default:
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s did not scrape %s within %v: %s", p.URL, target, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PromSample is one element of an instant vector.
type PromSample struct {
	Metric map[string]string // the labels, with __name__
	Value  float64
	Time   time.Time
}

// Query evaluates the PromQL expression expr now (/api/v1/query) and returns the instant vector. A scalar
// result comes back as one sample without labels. Select on lab_ns="<Namespace>" to see only this test's series.
func (p PrometheusEndpoint) Query(ctx context.Context, expr string) ([]PromSample, error) {
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	_, err := getJSON(ctx, p.URL+"/api/v1/query?query="+url.QueryEscape(expr), &body)
	if err != nil {
		return nil, fmt.Errorf("Prometheus query %s: %w", expr, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("Prometheus query %s: %s", expr, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &raw); err != nil {
			return nil, fmt.Errorf("Prometheus query %s: %w", expr, err)
		}
		out := make([]PromSample, 0, len(raw))
		for _, r := range raw {
			s, err := promSample(r.Value)
			if err != nil {
				return nil, fmt.Errorf("Prometheus query %s: %w", expr, err)
			}
			s.Metric = r.Metric
			out = append(out, s)
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(body.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("Prometheus query %s: %w", expr, err)
		}
		s, err := promSample(v)
		if err != nil {
			return nil, fmt.Errorf("Prometheus query %s: %w", expr, err)
		}
		return []PromSample{s}, nil
	}
	return nil, fmt.Errorf("Prometheus query %s: result type %q, want a vector (a range query needs /api/v1/query_range)", expr, body.Data.ResultType)
}

// promSample reads a [<unix seconds>, "<value>"] pair.
func promSample(v [2]any) (PromSample, error) {
	ts, ok := v[0].(float64)
	str, ok2 := v[1].(string)
	if !ok || !ok2 {
		return PromSample{}, fmt.Errorf("sample %v: want [time, \"value\"]", v)
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return PromSample{}, fmt.Errorf("sample value %q: %w", str, err)
	}
	return PromSample{Value: f, Time: time.UnixMilli(int64(ts * 1000))}, nil
}

// prometheusVersion checks that the server is ready and returns its version.
func prometheusVersion(ctx context.Context, baseURL string) (string, error) {
	var body struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if _, err := getJSON(ctx, baseURL+"/api/v1/status/buildinfo", &body); err != nil {
		return "", fmt.Errorf("Prometheus API: %w", err)
	}
	var ready struct{}
	if status, err := getJSON(ctx, baseURL+"/-/ready", &ready); status != 200 {
		return "", fmt.Errorf("Prometheus not ready: %w", err)
	}
	return "Prometheus " + body.Data.Version, nil
}

// prometheusConfig is the configuration of every Prometheus this package starts: one job whose targets are
// the JSON files in sdDir, scraped every second.
func prometheusConfig(sdDir string) string {
	return fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lab
    file_sd_configs:
      - files: [%q]
        refresh_interval: 2s
`, filepath.Join(sdDir, "*.json"))
}

// Environment variables of the env provider for Prometheus.
const (
	EnvPrometheusURL = "LAB_PROMETHEUS_URL" // http://host:port of the HTTP API
	// EnvPrometheusSDDir is the directory that the server's file_sd_configs read (files: [DIR/*.json]); Scrape
	// writes its target files there. Without it the env provider does not serve Prometheus.
	EnvPrometheusSDDir = "LAB_PROMETHEUS_SD_DIR"
)

// parsePrometheusEnv reads the env provider's variables into inst.
func parsePrometheusEnv(inst *Instance) error {
	raw := strings.TrimRight(strings.TrimSpace(os.Getenv(EnvPrometheusURL)), "/")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%s=%q: want http://host:port", EnvPrometheusURL, raw)
	}
	dir := strings.TrimSpace(os.Getenv(EnvPrometheusSDDir))
	if dir == "" {
		return fmt.Errorf("%s is set but %s is not: Scrape needs the directory that this server's file_sd_configs read", EnvPrometheusURL, EnvPrometheusSDDir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s=%s is not a directory", EnvPrometheusSDDir, dir)
	}
	inst.Addr = u.Host
	inst.Extra = map[string]string{extraURL: raw, extraSDDir: dir}
	return nil
}

func prometheusEnv(inst *Instance) []string {
	return []string{EnvPrometheusURL + "=" + inst.Extra[extraURL], EnvPrometheusSDDir + "=" + inst.Extra[extraSDDir]}
}
