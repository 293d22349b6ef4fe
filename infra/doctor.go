package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ProviderCheck says whether one provider can serve a service here.
type ProviderCheck struct {
	Provider    string
	Err         error // nil when available; says why not and what to install otherwise
	Unsupported bool  // the provider never serves this service (errors.Is(Err, ErrUnsupported))
}

// DoctorReport is what Doctor found for one service: every provider's availability in the order LAB_INFRA
// gives, and the server that a test would get, with its version and start time.
type DoctorReport struct {
	Service   Service
	Providers []ProviderCheck
	Provider  string        // the provider that served it
	Version   string        // what the server reports
	Started   time.Duration // how long it took to start (warm: templates and images already on disk)
	Err       error         // nil when a provider served it; wraps *UnavailableError otherwise
}

// Doctor checks each service: it asks every provider whether it is available, then starts the server a test
// would get, measures the start, and stops it again. Services run one after the other so that the times do not
// disturb each other.
func Doctor(ctx context.Context, services []Service) []DoctorReport {
	var reports []DoctorReport
	for _, svc := range services {
		r := DoctorReport{Service: svc}
		providers, err := providersFor(svc, os.Getenv("LAB_INFRA"))
		if err != nil {
			r.Err = err
			reports = append(reports, r)
			continue
		}
		for _, p := range providers {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := p.Available(actx, svc)
			cancel()
			r.Providers = append(r.Providers, ProviderCheck{Provider: p.Name(), Err: err, Unsupported: errors.Is(err, ErrUnsupported)})
		}
		sctx, cancel := context.WithTimeout(ctx, startTimeout)
		inst, err := startFirst(sctx, svc)
		if err != nil {
			r.Err = err
		} else {
			r.Provider, r.Version, r.Started = inst.Provider, inst.Version, inst.Started
			if inst.Stop != nil {
				stopCtx, stopCancel := context.WithTimeout(ctx, cleanupTimeout) // not sctx: the start may have spent it
				err := inst.Stop(stopCtx)
				stopCancel()
				if err != nil {
					r.Err = fmt.Errorf("stop after the check: %w", err)
				}
			}
		}
		cancel()
		reports = append(reports, r)
	}
	return reports
}
