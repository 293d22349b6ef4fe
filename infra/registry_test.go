package infra

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func nameList(ps []Provider) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name())
	}
	return out
}

func TestProvidersFor(t *testing.T) {
	all := nameList(allProviders())
	tests := []struct {
		name    string
		setting string
		svc     Service
		want    []string
	}{
		{"default order", "", MySQLService, all},
		{"one provider for all", "native", RedisService, []string{"native"}},
		{"global order", "inprocess,native", KafkaService, []string{"inprocess", "native"}},
		{"service override", "mysql=native,redis=inprocess", MySQLService, []string{"native"}},
		{"other service of an override falls back to the default", "mysql=native", RedisService, all},
		{"override wins over global", "docker,redis=inprocess", RedisService, []string{"inprocess"}},
		{"global applies to services without an override", "docker,redis=inprocess", ConsulService, []string{"docker"}},
		{"repeated override keeps order", "redis=inprocess,redis=native", RedisService, []string{"inprocess", "native"}},
		{"spaces are ignored", " mysql = native , ", MySQLService, []string{"native"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := providersFor(tt.svc, tt.setting)
			if err != nil {
				t.Fatalf("providersFor(%s, %q) error: %v", tt.svc, tt.setting, err)
			}
			if !slices.Equal(nameList(got), tt.want) {
				t.Errorf("providersFor(%s, %q) = %v, want %v", tt.svc, tt.setting, nameList(got), tt.want)
			}
		})
	}
}

func TestProvidersForRejectsUnknownNames(t *testing.T) {
	for _, setting := range []string{"podman", "mysql=nope", "mongodb=native"} {
		if _, err := providersFor(MySQLService, setting); !errors.Is(err, errBadSetting) {
			t.Errorf("providersFor(mysql, %q) error = %v, want errBadSetting", setting, err)
		}
	}
}

func TestNoProviderGivesUnavailableError(t *testing.T) {
	t.Setenv("LAB_INFRA", "mysql=inprocess")
	_, err := startFirst(context.Background(), MySQLService)
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("startFirst(mysql) with LAB_INFRA=mysql=inprocess: err = %v, want *UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "apt-get install mariadb-server") {
		t.Errorf("error does not say what to install:\n%v", err)
	}
}

// fatalRecorder records a Fatalf and ends its goroutine, as testing.T does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = strings.TrimSpace(sprintf(format, args...))
	runtime.Goexit()
}

func TestUnavailableFailsWithPrefix(t *testing.T) {
	t.Setenv("LAB_INFRA", "mysql=inprocess")
	sharedMu.Lock()
	saved := sharedServers[MySQLService]
	sharedServers[MySQLService] = &sharedServer{}
	sharedMu.Unlock()
	t.Cleanup(func() {
		sharedMu.Lock()
		sharedServers[MySQLService] = saved
		sharedMu.Unlock()
	})
	rec := &fatalRecorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { MySQL(rec) })
	wg.Wait()
	if !strings.HasPrefix(rec.msg, UnavailablePrefix) {
		t.Errorf("MySQL(t) with no provider failed with %q, want a message starting with %q", rec.msg, UnavailablePrefix)
	}
}
