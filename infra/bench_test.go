package infra

import (
	"context"
	"errors"
	"os"
	"testing"
)

// BenchmarkStart measures how long each provider takes to give a ready server, per service:
//   - cold: nothing cached (native: a fresh work root, so MySQL runs mariadb-install-db; docker: a new
//     container each time, LAB_DOCKER_REUSE=0);
//   - warm: caches in place (native: the MySQL data-directory template; docker: the reused container).
//
// Run: go test -run '^$' -bench BenchmarkStart -benchtime 5x ./infra
// A provider that cannot serve a service here is reported as skipped, with the reason.
func BenchmarkStart(b *testing.B) {
	for _, name := range []string{ProviderDocker, ProviderInprocess, ProviderNative} {
		for _, svc := range Services {
			for _, mode := range []string{"cold", "warm"} {
				b.Run(name+"/"+string(svc)+"/"+mode, func(b *testing.B) {
					benchStart(b, name, svc, mode == "cold")
				})
			}
		}
	}
}

func benchStart(b *testing.B, name string, svc Service, cold bool) {
	ctx := context.Background()
	if name == ProviderDocker {
		reuse := "1"
		if cold {
			reuse = "0"
		}
		b.Setenv("LAB_DOCKER_REUSE", reuse)
	}
	p, err := ProviderByName(name)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Available(ctx, svc); err != nil {
		if errors.Is(err, ErrUnsupported) {
			b.Skipf("%s never serves %s", name, svc)
		}
		b.Skipf("%s cannot serve %s here: %v", name, svc, err)
	}
	if !cold { // fill the caches once, outside the measurement
		stopOrFail(b, start(b, p, svc))
	}
	base := os.TempDir()
	for b.Loop() {
		if cold && name == ProviderNative {
			b.StopTimer()
			dir, err := os.MkdirTemp(base, "mlb")
			if err != nil {
				b.Fatal(err)
			}
			// As TMPDIR is: a server that runs as another user (PostgreSQL under root) must reach its directory.
			if err := os.Chmod(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			b.Setenv("TMPDIR", dir)
			b.StartTimer()
			stopOrFail(b, start(b, p, svc))
			b.StopTimer()
			os.RemoveAll(dir)
			b.StartTimer()
			continue
		}
		inst := start(b, p, svc)
		b.StopTimer()
		stopOrFail(b, inst)
		b.StartTimer()
	}
}

func start(b *testing.B, p Provider, svc Service) *Instance {
	b.Helper()
	inst, err := p.Start(context.Background(), svc)
	if err != nil {
		b.Fatalf("%s.Start(%s): %v", p.Name(), svc, err)
	}
	return inst
}

func stopOrFail(b *testing.B, inst *Instance) {
	b.Helper()
	if inst.Stop != nil {
		if err := inst.Stop(context.Background()); err != nil {
			b.Fatalf("stop: %v", err)
		}
	}
}
