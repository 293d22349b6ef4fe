package lab

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Check reports its phases as they begin: the servers, the compile of the chapter, then each top-level
// test; the caller's event channel still gets every event.
func TestCheckReportsSteps(t *testing.T) {
	l := open(t, labtest.Course(t))
	l.Course().Exercise("00-greet").Infra = []string{"redis"}
	var logged []string
	l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
		logf("starting %s", services[0]) // as infra.StartSession does
		logf("%s: up", services[0])
		return nil, func(context.Context) error { return nil }, nil
	}
	var mu sync.Mutex
	var steps []Step
	opts := CheckOptions{NoCache: true,
		Progress: func(s Step) { mu.Lock(); steps = append(steps, s); mu.Unlock() },
		Logf:     func(f string, a ...any) { logged = append(logged, f) }}
	exs, _ := l.Resolve("00")
	events := make(chan runner.Event, 1024)
	if _, err := l.Check(context.Background(), exs, opts, events); err != nil {
		t.Fatal(err)
	}
	close(events) // Check has returned: it must not send any more
	n := 0
	for range events {
		n++
	}
	want := []Step{{Kind: StepInfra, Name: "redis"}, {Kind: StepCompile, Name: "00-demo"}}
	if len(steps) < 3 || !slices.Equal(steps[:2], want) {
		t.Fatalf("steps = %v, want %v then the tests", steps, want)
	}
	var tests []string
	for _, s := range steps[2:] {
		tests = append(tests, s.Package+"."+s.Name)
	}
	slices.Sort(tests)
	if wantTests := []string{"00-demo/calc.TestAdd", "00-demo/calc.TestSub", "00-demo/greet.TestGreet"}; !slices.Equal(tests, wantTests) {
		t.Errorf("test steps = %v, want %v: each top-level test once, with its package", tests, wantTests)
	}
	if n == 0 {
		t.Error("the caller's channel got no events: the progress hook must not swallow them")
	}
	if slices.Contains(logged, "starting %s") || !slices.Contains(logged, "%s: up") {
		t.Errorf("logged %q, want infra's own lines except its start line, which the step replaces", logged)
	}
}

// Before it starts servers, a check sweeps what killed checks left; a check that needs none does not
// touch the infrastructure at all.
func TestCheckSweepsOrphansFirst(t *testing.T) {
	tests := []struct {
		name  string
		infra []string
		want  []string
	}{
		{"needs redis", []string{"redis"}, []string{"sweep", "start redis"}},
		{"needs nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := open(t, labtest.Course(t))
			l.Course().Exercise("00-greet").Infra = tt.infra
			var calls []string
			l.SweepInfra = func(context.Context, []string) { calls = append(calls, "sweep") }
			l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
				calls = append(calls, "start "+services[0])
				return nil, func(context.Context) error { return nil }, nil
			}
			exs, _ := l.Resolve("00-greet")
			if _, err := l.Check(context.Background(), exs, CheckOptions{Solution: true}, nil); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(calls, tt.want) {
				t.Errorf("infrastructure calls = %v, want %v", calls, tt.want)
			}
		})
	}
}

// A check interrupted while its tests run sweeps again once they are dead: they were killed before their
// cleanups, and what they registered on a server that outlives the check (a `labctl infra up` Consul) must
// not wait for the next check.
func TestInterruptedCheckSweepsAfter(t *testing.T) {
	l := open(t, labtest.Course(t))
	l.Course().Exercise("00-greet").Infra = []string{"consul"}
	var calls []string
	const consulEnv = "LAB_CONSUL_ADDR=127.0.0.1:8500"
	l.SweepInfra = func(ctx context.Context, env []string) {
		if ctx.Err() != nil {
			t.Errorf("sweep called with a cancelled context (%v): it would do nothing", ctx.Err())
		}
		calls = append(calls, "sweep "+strings.Join(env, " "))
	}
	l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
		calls = append(calls, "start "+services[0])
		return []string{consulEnv}, func(context.Context) error { calls = append(calls, "stop"); return nil }, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan runner.Event)
	go func() {
		first := true
		for range events { // the tests have started: interrupt, as Ctrl-C would
			if first {
				cancel()
				first = false
			}
		}
	}()
	exs, _ := l.Resolve("00-greet")
	_, err := l.Check(ctx, exs, CheckOptions{Solution: true}, events)
	close(events)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Check() interrupted mid-run = %v, want context.Canceled", err)
	}
	// The second sweep is told the servers the tests used: a reused Consul container is not in labctl's own environment.
	if want := []string{"sweep ", "start consul", "sweep " + consulEnv, "stop"}; !slices.Equal(calls, want) {
		t.Errorf("infrastructure calls = %v, want %v", calls, want)
	}
}
