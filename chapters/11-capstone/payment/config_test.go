package payment

import (
	"testing"

	"github.com/zeromicro/go-zero/core/conf"

	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/config"
)

// TestPaymentConfigFile proves etc/payment.yaml is a real go-zero config: conf.Load reads it, and the switches
// the service depends on hold after go-zero applied its defaults (several default to on in v1.10.3).
func TestPaymentConfigFile(t *testing.T) {
	var fromFile, embedded config.Config
	if err := conf.Load("etc/payment.yaml", &fromFile); err != nil {
		t.Fatalf("conf.Load(etc/payment.yaml) = %v, want nil: the service could not start from its own config", err)
	}
	if err := conf.LoadFromYamlBytes(ConfigFile, &embedded); err != nil {
		t.Fatalf("conf.LoadFromYamlBytes(ConfigFile) = %v, want nil", err)
	}
	c := fromFile.RpcServerConf
	checks := []struct {
		name      string
		got, want any
		why       string
	}{
		{"embedded == file", embedded.RpcServerConf.Name, c.Name, "Run must use the file as it is on disk"},
		{"HasEtcd()", c.HasEtcd(), false, "with etcd hosts zrpc publishes to etcd; the course registers in Consul"},
		{"Redis.Host", c.Redis.Host, "", "no Redis: Auth is off"},
		{"DevServer.Enabled", c.DevServer.Enabled, false, "default true: an HTTP server on :6060 per process"},
		{"Telemetry.Disabled", c.Telemetry.Disabled, true, "go-zero's trace agent would replace the global TracerProvider"},
		{"Middlewares.Trace", c.Middlewares.Trace, false, "otelgrpc from payment.Config.Options makes the spans"},
		{"Middlewares.Breaker", c.Middlewares.Breaker, false, "the caller owns the failure policy"},
		{"Middlewares.Recover", c.Middlewares.Recover, true, "a panic must become codes.Internal"},
		{"CpuThreshold", c.CpuThreshold, int64(0), "adaptive shedding would drop calls on a busy test machine"},
		{"Timeout", c.Timeout, int64(2000), "a per-call server deadline, go-zero's default"},
		{"Health", c.Health, true, "Consul's gRPC check calls grpc.health.v1"},
		{"Log.Level", c.Log.Level, "error", "info logs a line per call"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("etc/payment.yaml %s = %v, want %v: %s", ch.name, ch.got, ch.want, ch.why)
		}
	}
}
