package infra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Session is a set of servers that labctl starts once and shares with every test binary it runs,
// through the env provider's variables (Env).
type Session struct {
	Instances []*Instance
	// Env holds NAME=value entries (LAB_MYSQL_DSN, LAB_REDIS_ADDR, LAB_CONSUL_ADDR, LAB_KAFKA_BROKERS, LAB_RABBITMQ_URL,
	// LAB_POSTGRES_DSN, LAB_JAEGER_*, LAB_PROMETHEUS_*) that point child processes at the servers.
	Env []string
}

// StartSession starts one server for each service, in parallel, with the same provider choice as the tests
// (LAB_INFRA). If any fails, it stops the others and returns an error that wraps *UnavailableError.
// logf, when not nil, receives progress lines.
func StartSession(ctx context.Context, services []Service, logf func(string, ...any)) (*Session, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	services = slices.Compact(slices.Sorted(slices.Values(services)))
	instances := make([]*Instance, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	for i, svc := range services {
		if !slices.Contains(Services, svc) {
			errs[i] = fmt.Errorf("unknown service %q (known: %v)", svc, Services)
			continue
		}
		wg.Go(func() {
			logf("starting %s", svc)
			inst, err := startFirst(ctx, svc)
			if err != nil {
				errs[i] = fmt.Errorf("start %s: %w", svc, err)
				return
			}
			logf("%s: %s via %s at %s in %v", svc, inst.Version, inst.Provider, inst.Addr, inst.Started.Round(time.Millisecond))
			instances[i] = inst
		})
	}
	wg.Wait()
	s := &Session{}
	for _, inst := range instances {
		if inst != nil {
			s.Instances = append(s.Instances, inst)
			s.Env = append(s.Env, EnvFor(inst)...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// Close stops the servers the session started; servers it found through the environment keep running.
func (s *Session) Close(ctx context.Context) error {
	var errs []error
	for _, inst := range s.Instances {
		if inst.Stop != nil {
			if err := inst.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s (%s): %w", inst.Service, inst.Provider, err))
			}
		}
	}
	return errors.Join(errs...)
}

// StartNamed is StartSession for services given by name ("mysql", "redis", ...), in the shape labctl's
// checks and its mutation runs take: the environment for child test processes, and how to stop it all.
func StartNamed(ctx context.Context, names []string, logf func(string, ...any)) (env []string, stop func(context.Context) error, err error) {
	svcs := make([]Service, 0, len(names))
	for _, n := range names {
		svcs = append(svcs, Service(n))
	}
	s, err := StartSession(ctx, svcs, logf)
	if err != nil {
		return nil, nil, err
	}
	return s.Env, s.Close, nil
}
