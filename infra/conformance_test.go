package infra

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The conformance suite runs the same cases against every provider of every service, so that a chapter test
// behaves the same on Docker, on native binaries and in-process. Subtests are named provider/service/case.
//
// Nothing skips. A provider×service pair that cannot be served here fails, unless LAB_CONFORMANCE_PROVIDERS
// says which pairs are required: a comma-separated list of providers ("inprocess,native") or pairs
// ("docker:mysql,native:consul"). Without it, every provider that starts servers (docker, inprocess, native) is
// required for every service it serves; env is required when one of its LAB_* variables is set.
// Pairs that are neither required nor available are listed in the log of TestConformance, and available pairs
// always run, required or not.

const envConformanceProviders = "LAB_CONFORMANCE_PROVIDERS"

type conformanceCase struct {
	name string
	run  func(t *testing.T, inst *Instance)
}

func casesFor(svc Service) []conformanceCase {
	switch svc {
	case MySQLService:
		return mysqlCases
	case RedisService:
		return redisCases
	case ConsulService:
		return consulCases
	case KafkaService:
		return kafkaCases
	case PostgresService:
		return postgresCases
	case RabbitMQService:
		return rabbitmqCases
	case JaegerService:
		return jaegerCases
	case PrometheusService:
		return prometheusCases
	case EtcdService:
		return etcdCases
	}
	return nil
}

// required reports whether the pair provider:svc must be available, following LAB_CONFORMANCE_PROVIDERS.
func required(setting, provider string, svc Service) bool {
	if strings.TrimSpace(setting) == "" {
		if provider == ProviderEnv {
			return os.Getenv(envVar(svc)) != ""
		}
		return true
	}
	for _, item := range strings.Split(setting, ",") {
		p, s, scoped := strings.Cut(strings.TrimSpace(item), ":")
		if p == provider && (!scoped || Service(s) == svc) {
			return true
		}
	}
	return false
}

func TestConformance(t *testing.T) {
	setting := os.Getenv(envConformanceProviders)
	var names []string
	for _, p := range allProviders() {
		names = append(names, p.Name())
	}
	for _, item := range strings.Split(setting, ",") {
		p, _, _ := strings.Cut(strings.TrimSpace(item), ":")
		if p != "" && !slices.Contains(names, p) {
			t.Errorf("%s names provider %q, which this build does not have (it has %s)", envConformanceProviders, p, strings.Join(names, ", "))
		}
	}
	var notRun []string
	for _, p := range allProviders() {
		for _, svc := range Services {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			avail := p.Available(ctx, svc)
			cancel()
			if errors.Is(avail, ErrUnsupported) {
				continue // the provider never serves this service, by design
			}
			must := required(setting, p.Name(), svc)
			if avail != nil && !must {
				notRun = append(notRun, p.Name()+"/"+string(svc)+" ("+avail.Error()+")")
				continue
			}
			t.Run(p.Name()+"/"+string(svc), func(t *testing.T) {
				if avail != nil {
					t.Fatalf("%s %s cannot serve %s here: %v\n(set %s to the providers this machine must pass, e.g. inprocess,native)",
						UnavailablePrefix, p.Name(), svc, avail, envConformanceProviders)
				}
				ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
				defer cancel()
				inst, err := p.Start(ctx, svc)
				if err != nil {
					t.Fatalf("%s %s.Start(%s): %v", UnavailablePrefix, p.Name(), svc, err)
				}
				t.Cleanup(func() {
					if inst.Stop != nil {
						if err := inst.Stop(context.Background()); err != nil {
							t.Errorf("stop %s %s: %v", p.Name(), svc, err)
						}
					}
				})
				t.Logf("%s %s: %s at %s, started in %v", p.Name(), svc, inst.Version, inst.Addr, inst.Started.Round(time.Millisecond))
				for _, c := range casesFor(svc) {
					t.Run(c.name, func(t *testing.T) { c.run(t, inst) })
				}
			})
		}
	}
	if len(notRun) > 0 {
		t.Logf("not required by %s=%q and not available here, so not run:\n  %s", envConformanceProviders, setting, strings.Join(notRun, "\n  "))
	}
}

func TestRequired(t *testing.T) {
	t.Setenv(EnvRedisAddr, "")
	tests := []struct {
		setting, provider string
		svc               Service
		want              bool
	}{
		{"", ProviderNative, MySQLService, true},
		{"", ProviderEnv, RedisService, false},
		{"inprocess,native", ProviderNative, ConsulService, true},
		{"inprocess,native", ProviderDocker, MySQLService, false},
		{"docker:mysql,native", ProviderDocker, MySQLService, true},
		{"docker:mysql,native", ProviderDocker, KafkaService, false},
	}
	for _, tt := range tests {
		if got := required(tt.setting, tt.provider, tt.svc); got != tt.want {
			t.Errorf("required(%q, %s, %s) = %v, want %v", tt.setting, tt.provider, tt.svc, got, tt.want)
		}
	}
}

// eventually retries check until it returns nil or timeout passes, then fails with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
