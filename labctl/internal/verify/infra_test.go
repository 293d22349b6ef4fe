package verify

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// TestInfraPool: chapters verified at the same time share their servers. Each service starts once however
// many chapters ask at once (two starts of a reused container or a data directory would race), a service
// that cannot start fails only the chapters that need it, and close stops each started server once.
func TestInfraPool(t *testing.T) {
	var mu sync.Mutex
	starts := map[string]int{}
	stops := map[string]int{}
	l := &lab.Lab{StartInfra: func(ctx context.Context, services []string, _ func(string, ...any)) ([]string, func(context.Context) error, error) {
		if len(services) != 1 {
			t.Errorf("StartInfra(%v): want one service per call, so that one that fails is told apart", services)
		}
		s := services[0]
		mu.Lock()
		starts[s]++
		mu.Unlock()
		if s == "kafka" {
			return nil, nil, errors.New("broken")
		}
		return []string{"LAB_" + s + "=addr"}, func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			stops[s]++
			return nil
		}, nil
	}}
	chapter := func(infra ...[]string) *course.Chapter {
		ch := &course.Chapter{}
		for _, in := range infra {
			ch.Exercises = append(ch.Exercises, &course.Exercise{Infra: in})
		}
		return ch
	}
	sql := chapter([]string{"mysql", "redis"}, []string{"mysql"})
	kafka := chapter([]string{"mysql", "kafka"})
	none := chapter(nil)

	p := newInfraPool(l)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			env, err := p.env(context.Background(), sql)
			if err != nil || !slices.Equal(env, []string{"LAB_mysql=addr", "LAB_redis=addr"}) {
				t.Errorf("env(mysql, redis) = %v, %v, want both servers' environment", env, err)
			}
		})
	}
	wg.Wait()
	if _, err := p.env(context.Background(), kafka); err == nil {
		t.Error("env(mysql, kafka) with kafka down = nil error, want the chapter told kafka is unavailable")
	}
	if env, err := p.env(context.Background(), none); err != nil || env != nil {
		t.Errorf("env(no infra) = %v, %v, want nothing started", env, err)
	}
	if want := map[string]int{"mysql": 1, "redis": 1, "kafka": 1}; !maps.Equal(starts, want) {
		t.Errorf("starts = %v, want %v: each service once per run, however many chapters share it", starts, want)
	}
	if err := p.close(context.Background()); err != nil {
		t.Fatalf("close() = %v", err)
	}
	if want := map[string]int{"mysql": 1, "redis": 1}; !maps.Equal(stops, want) {
		t.Errorf("stops = %v, want %v: every started server stopped once at the end", stops, want)
	}
}
