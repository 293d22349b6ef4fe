package infra

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestObservabilityEnvRoundTrip starts Jaeger and Prometheus as `labctl infra up` does, and checks that their
// several variables each point the env provider at the same servers: a test binary under labctl gets working
// endpoints, including Scrape's target directory.
func TestObservabilityEnvRoundTrip(t *testing.T) {
	s, err := StartSession(t.Context(), []Service{JaegerService, PrometheusService}, t.Logf)
	if err != nil {
		var ue *UnavailableError
		if errors.As(err, &ue) {
			t.Fatalf("%s %v", UnavailablePrefix, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	names := map[string]bool{}
	for _, kv := range s.Env {
		name, value, _ := strings.Cut(kv, "=")
		if value == "" {
			t.Errorf("session env %s is empty", name)
		}
		names[name] = true
		t.Setenv(name, value)
	}
	for _, want := range []string{EnvJaegerOTLP, EnvJaegerOTLPHTTP, EnvJaegerQuery, EnvPrometheusURL, EnvPrometheusSDDir} {
		if !names[want] {
			t.Errorf("session env %v lacks %s", s.Env, want)
		}
	}
	t.Setenv("LAB_INFRA", ProviderEnv)
	for _, svc := range []Service{JaegerService, PrometheusService} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		inst, err := startFirst(ctx, svc)
		cancel()
		if err != nil {
			t.Fatalf("env provider with the session's variables, %s: %v", svc, err)
		}
		for _, orig := range s.Instances {
			if orig.Service == svc && (orig.Addr != inst.Addr || len(orig.Extra) != len(inst.Extra)) {
				t.Errorf("%s via env = %s %v, want the session's %s %v", svc, inst.Addr, inst.Extra, orig.Addr, orig.Extra)
			}
		}
		if svc == PrometheusService {
			// Scrape through the env provider's endpoint writes where the session's server reads.
			p := prometheusNamespace(inst)
			target := metricsServer(t, "lab_env_roundtrip 7\n")
			p.Scrape(t, target)
			p.WaitScraped(t, target, scrapeWait)
		}
	}
}

func TestPrometheusEnvNeedsTargetDir(t *testing.T) {
	t.Setenv(EnvPrometheusURL, "http://127.0.0.1:9")
	t.Setenv(EnvPrometheusSDDir, "")
	_, err := envProvider{}.Start(t.Context(), PrometheusService)
	if err == nil || !strings.Contains(err.Error(), EnvPrometheusSDDir) {
		t.Fatalf("env Start(prometheus) without %s = %v, want an error naming it", EnvPrometheusSDDir, err)
	}
}
