package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Provider names, in the default order of preference.
const (
	ProviderEnv       = "env"
	ProviderDocker    = "docker"
	ProviderInprocess = "inprocess"
	ProviderNative    = "native"
)

// Services lists every service, in a stable order.
var Services = []Service{MySQLService, RedisService, ConsulService, KafkaService, RabbitMQService, PostgresService, JaegerService, PrometheusService, EtcdService}

// allProviders returns every provider in the default order. The Docker provider lives in docker.go.
func allProviders() []Provider {
	return []Provider{
		envProvider{},
		newDockerProvider(),
		inprocessProvider{},
		nativeProvider{},
	}
}

// Providers returns every provider this build knows, in the default order.
func Providers() []Provider { return allProviders() }

// ProviderByName returns the provider called name.
func ProviderByName(name string) (Provider, error) {
	for _, p := range allProviders() {
		if p.Name() == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("unknown provider %q (known: %s): %w", name, strings.Join(providerNames(), ", "), errBadSetting)
}

func providerNames() []string {
	var names []string
	for _, p := range allProviders() {
		names = append(names, p.Name())
	}
	return names
}

var errBadSetting = errors.New("bad LAB_INFRA setting")

// ErrUnsupported says that a provider never serves a service (in-process MySQL, native Kafka), as opposed to
// a provider that could serve it once something is installed or started.
var ErrUnsupported = errors.New("not served by this provider")

// providersFor returns the providers to try for svc, in order, as LAB_INFRA says.
//
// LAB_INFRA is a comma-separated list. A bare provider name applies to every service ("native", or
// "inprocess,native" for that order); "service=provider" applies to one service and wins over bare names
// ("mysql=native,redis=inprocess"). Repeating a service lists its providers in order ("redis=inprocess,redis=native").
// Services that the setting does not mention use the bare names, or the default order when there are none.
func providersFor(svc Service, setting string) ([]Provider, error) {
	var global, own []string
	for _, item := range strings.Split(setting, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		s, name, scoped := strings.Cut(item, "=")
		if !scoped {
			global = append(global, s)
			continue
		}
		if !slices.Contains(Services, Service(strings.TrimSpace(s))) {
			return nil, fmt.Errorf("LAB_INFRA item %q names an unknown service: %w", item, errBadSetting)
		}
		if Service(strings.TrimSpace(s)) == svc {
			own = append(own, strings.TrimSpace(name))
		}
	}
	names := own
	if len(names) == 0 {
		names = global
	}
	if len(names) == 0 {
		return allProviders(), nil
	}
	var out []Provider
	for _, n := range names {
		p, err := ProviderByName(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// startFirst starts svc with the first provider, in LAB_INFRA order, that is available and starts.
// Its error lists why each provider could not serve, and what to install or start.
func startFirst(ctx context.Context, svc Service, skip ...string) (*Instance, error) {
	return startVia(ctx, svc, func(p Provider) (Provider, string) {
		if slices.Contains(skip, p.Name()) {
			return nil, ""
		}
		return p, ""
	}, nil)
}

// startVia is the provider loop behind startFirst and startRestartable. pick may refuse a provider (nil,
// with a reason or none) or swap it for a variant; keep may refuse a started instance with a reason, and
// the instance is then stopped.
func startVia(ctx context.Context, svc Service, pick func(Provider) (Provider, string), keep func(*Instance) string) (*Instance, error) {
	providers, err := providersFor(svc, os.Getenv("LAB_INFRA"))
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, p := range providers {
		name := p.Name()
		p, why := pick(p)
		if p == nil {
			if why != "" {
				reasons = append(reasons, fmt.Sprintf("  %s: %s", name, why))
			}
			continue
		}
		if err := p.Available(ctx, svc); err != nil {
			reasons = append(reasons, fmt.Sprintf("  %s: %v", name, err))
			continue
		}
		inst, err := p.Start(ctx, svc)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("  %s: start failed: %v", name, err))
			continue
		}
		if keep != nil {
			if why := keep(inst); why != "" {
				if inst.Stop != nil {
					stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout) // ctx may be nearly spent
					_ = inst.Stop(stopCtx)
					cancel()
				}
				reasons = append(reasons, fmt.Sprintf("  %s: %s", name, why))
				continue
			}
		}
		return inst, nil
	}
	return nil, &UnavailableError{Service: svc, Reasons: reasons}
}

// UnavailableError says that no provider could serve a service.
type UnavailableError struct {
	Service Service
	Reasons []string // one line per provider tried
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("no provider can serve %s (LAB_INFRA=%q):\n%s\n%s",
		e.Service, os.Getenv("LAB_INFRA"), strings.Join(e.Reasons, "\n"), installHint(e.Service))
}

// installHint says what makes svc available.
func installHint(svc Service) string {
	common := "or start Docker, or run `go run ./labctl infra up` and export what it prints"
	switch svc {
	case MySQLService:
		return "To fix: install MariaDB (Debian/Ubuntu: sudo apt-get install mariadb-server; macOS: brew install mariadb), " + common + "."
	case RedisService:
		return "To fix: Redis runs in-process unless LAB_INFRA excludes it; install redis-server (apt-get install redis-server, brew install redis), " + common + "."
	case ConsulService:
		return "To fix: run `go run ./labctl infra install consul` (builds Consul into ~/.cache/microlab/bin), put consul on PATH, " + common + "."
	case KafkaService:
		return "To fix: Kafka runs in-process unless LAB_INFRA excludes it; " + common + "."
	case PostgresService:
		return "To fix: install PostgreSQL (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql), " + common + "."
	case RabbitMQService:
		return "To fix: install RabbitMQ (Debian/Ubuntu: sudo apt-get install rabbitmq-server; macOS: brew install rabbitmq), " +
			"or build its local image with `infra/images/build.sh rabbitmq`, " + common + "."
	case JaegerService:
		return "To fix: run `go run ./labctl infra install jaeger` (builds Jaeger into ~/.cache/microlab/bin, about 5 minutes on two cores), " +
			"or set " + EnvJaegerBin + ", " + common + "."
	case PrometheusService:
		return "To fix: install Prometheus (Debian/Ubuntu: sudo apt-get install prometheus; macOS: brew install prometheus), " +
			"or set " + EnvPrometheusBin + ", " + common + "."
	case EtcdService:
		return "To fix: etcd runs in-process unless LAB_INFRA excludes it; install etcd (Debian/Ubuntu: sudo apt-get install etcd-server; " +
			"macOS: brew install etcd), or build its local image with `infra/images/build.sh etcd`, " + common + "."
	}
	return ""
}

// startRestartable starts a private server of svc that can be paused and resumed at the same address.
// The env provider cannot give a private server, so it is never used here.
func startRestartable(svc Service) (*Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pick := func(p Provider) (Provider, string) {
		if p.Name() == ProviderEnv {
			return nil, "cannot give a private server"
		}
		// A shared (reused) server can't be paused for one test: ask for a private one where the provider can.
		if o, ok := p.(interface{ withOwnContainers() Provider }); ok {
			return o.withOwnContainers(), ""
		}
		return p, ""
	}
	keep := func(inst *Instance) string {
		if inst.Pause == nil || inst.Resume == nil {
			return "cannot stop and restart a server at the same address"
		}
		return ""
	}
	return startVia(ctx, svc, pick, keep)
}
