package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// fixtureRunner runs the fixture module in testdata/fixture, outside the repository's go.work.
func fixtureRunner(t testing.TB) *Runner {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "fixture"))
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Dir: dir, Env: []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, Timeout: 3 * time.Second}
}

// ex is a fixture exercise whose tests time out after 3s, as the manifest's timeout would say.
func ex(id, pkg, tests string) *course.Exercise {
	return &course.Exercise{ID: id, Package: pkg, Tests: tests, Timeout: course.Duration(3 * time.Second)}
}

func TestRunAndFold(t *testing.T) {
	tests := []struct {
		name        string
		exercise    *course.Exercise
		want        Status
		wantMessage string // a substring of the exercise's first test message (or the exercise message)
		wantPanic   bool
		wantCompile *CompileError
	}{
		{name: "pass", exercise: ex("pass", "./pass", "^TestAdd$"), want: StatusPass},
		{name: "assertion fails", exercise: ex("fail", "./fail", "^TestAdd"), want: StatusFail, wantMessage: "Add(2, 3) = 0, want 5"},
		{name: "failing subtest fails its parent", exercise: ex("mixed", "./mixed", "^TestOne$"), want: StatusFail, wantMessage: "sub_bad: got 1, want 2"},
		{name: "compile error", exercise: ex("compile", "./compile", "^TestAdd$"), want: StatusCompileError,
			wantCompile: &CompileError{File: "compile/compile.go", Line: 5, Col: 41, Message: "undefined: missing"}},
		{name: "panic", exercise: ex("panic", "./panics", "^TestLookup$"), want: StatusFail, wantMessage: "nil pointer dereference", wantPanic: true},
		{name: "timeout", exercise: ex("slow", "./timeout", "^TestSlow$"), want: StatusTimeout, wantMessage: "timed out after 6s"}, // slow and fast share ./timeout: 3s each add up
		{name: "test before the timeout passed", exercise: ex("fast", "./timeout", "^TestFast$"), want: StatusPass},
		{name: "skip is not a pass", exercise: ex("skip", "./skip", "^TestSkipped$"), want: StatusSkip, wantMessage: "not ready"},
		{name: "infra unavailable", exercise: ex("infra", "./infra", "^TestNeedsRedis$"), want: StatusInfraError, wantMessage: "infra unavailable: redis"},
		{name: "pattern matches nothing", exercise: ex("none", "./pass", "^TestNothing$"), want: StatusNoTests, wantMessage: "no test in ./pass"},
		{name: "a crash in another test leaves later tests unrun, not passed", exercise: ex("first", "./crash", "^TestFirst"),
			want: StatusNotRun, wantMessage: "TestCrash stopped the test binary"},
		{name: "the crashing test itself", exercise: ex("crash", "./crash", "^TestCrash$"), want: StatusFail, wantMessage: "nil map", wantPanic: true},
		{name: "TestMain fails after every test passed", exercise: ex("aftermain", "./aftermain", "^TestPasses$"),
			want: StatusFail, wantMessage: "leak check failed"},
		{name: "TestMain without its infrastructure", exercise: ex("inframain", "./inframain", "^TestNeedsMySQL$"),
			want: StatusInfraError, wantMessage: "infra unavailable: mysql"},
		{name: "os.Exit during a test", exercise: ex("exits", "./exits", "^TestExits$"), want: StatusFail, wantMessage: "exited while this test ran"},
	}
	var exercises []*course.Exercise
	for _, tt := range tests {
		exercises = append(exercises, tt.exercise)
	}
	rep, err := fixtureRunner(t).Run(context.Background(), RequestFor(exercises), nil)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	results := Fold(rep, exercises)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := results[i]
			if got.Status != tt.want {
				t.Fatalf("status = %s, want %s (result %+v)", got.Status, tt.want, got)
			}
			msg := got.Message
			if len(got.Tests) > 0 {
				if msg == "" {
					msg = got.Tests[0].Message
				}
				if got.Tests[0].Panic != tt.wantPanic {
					t.Errorf("Panic = %v, want %v", got.Tests[0].Panic, tt.wantPanic)
				}
			}
			if !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMessage)
			}
			if tt.wantCompile != nil {
				if len(got.CompileErrors) == 0 || got.CompileErrors[0] != *tt.wantCompile {
					t.Errorf("CompileErrors = %+v, want first %+v", got.CompileErrors, *tt.wantCompile)
				}
			}
		})
	}
}

func TestRunNoGoToolchain(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := fixtureRunner(t).Run(context.Background(), Request{Packages: []string{"./pass"}}, nil)
	if !errors.Is(err, ErrNoGoToolchain) {
		t.Fatalf("Run() with no go in PATH = %v, want ErrNoGoToolchain", err)
	}
}

func TestRunBadPackage(t *testing.T) {
	rep, err := fixtureRunner(t).Run(context.Background(), Request{Packages: []string{"./nonexistent"}}, nil)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	got := Fold(rep, []*course.Exercise{ex("x", "./nonexistent", "^Test")})[0]
	if got.Status != StatusCompileError {
		t.Errorf("status of a missing package = %s, want %s", got.Status, StatusCompileError)
	}
}

// TestRunCancelKillsProcessGroup cancels while a test sleeps and checks that no test binary survives.
func TestRunCancelKillsProcessGroup(t *testing.T) {
	r := fixtureRunner(t)
	r.Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan Event, 64)
	go func() {
		for ev := range events {
			if ev.Test == "TestSlow" && ev.Action == "run" {
				cancel()
			}
		}
	}()
	start := time.Now()
	rep, err := r.Run(ctx, Request{Packages: []string{"./timeout"}, Run: "^TestSlow$", NoCache: true}, events)
	close(events)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Run() returned after %v, want soon after cancel", d)
	}
	if got := Fold(rep, []*course.Exercise{ex("slow", "./timeout", "^TestSlow$")})[0].Status; got != StatusNotRun {
		t.Errorf("status after cancel = %s, want %s", got, StatusNotRun)
	}
	// Run returns once the test binaries have exited, not only the go command: what cleans up after a
	// cancelled check (a sweep of their Consul registrations) must see them dead.
	if pids := processesIn("timeout.test", filepath.Join(r.Dir, "timeout")); len(pids) > 0 {
		t.Errorf("test binaries still running when Run returned after cancel: %v", pids)
	}
}

// processesIn lists the pids whose command line mentions name and that work in dir: go test runs a test
// binary in its package's directory. Other test binaries of the same name elsewhere on the machine (chapter
// 06's timeout package, run by the course verification in parallel) are not this run's.
func processesIn(name, dir string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(cmd), name) {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join(d, "cwd")); err == nil && cwd == dir {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

func TestFirstFailure(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"log then error", "=== RUN   TestX\n    x_test.go:5: starting\n    x_test.go:9: Add(1, 2) = 0, want 3\n--- FAIL: TestX (0.00s)\n", "x_test.go:9: Add(1, 2) = 0, want 3"},
		{"testify block", "=== RUN   TestX\n    x_test.go:9: \n        \tError Trace:\tx_test.go:9\n        \tError:      \tNot equal\n--- FAIL: TestX (0.00s)\n", "x_test.go:9:\n    \tError Trace:\tx_test.go:9\n    \tError:      \tNot equal"},
		{"nothing located", "=== RUN   TestX\n--- FAIL: TestX (0.00s)\n", ""},
		{"testify diff keeps the subtest and message", "=== RUN   TestX/bad_type\n" +
			"    x_test.go:9: \n        \tError Trace:\tx_test.go:9\n        \tError:      \tNot equal: \n" +
			"        \t            \texpected: []string{\"price_cents\"}\n        \t            \tactual  : []string(nil)\n" +
			"        \t            \t\n        \t            \tDiff:\n        \t            \t--- Expected\n" +
			"        \t            \t+++ Actual\n        \t            \t@@ -1,3 +1,2 @@\n        \t            \t-([]string) (len=1) {\n" +
			"        \t            \t- (string) (len=11) \"price_cents\"\n        \t            \t-}\n        \t            \t+([]string) <nil>\n" +
			"        \tTest:       \tTestX/bad_type\n        \tMessages:   \tPOST /products: field errors\n" +
			"    --- FAIL: TestX/bad_type (0.00s)\n",
			"x_test.go:9:\n    \tError Trace:\tx_test.go:9\n    \tError:      \tNot equal: \n" +
				"    \t            \texpected: []string{\"price_cents\"}\n    \t            \tactual  : []string(nil)\n" +
				"    \t            \tDiff:\n    \t            \t--- Expected\n    \t            \t+++ Actual\n" +
				"    \t            \t@@ -1,3 +1,2 @@\n    \t            \t-([]string) (len=1) {\n    \t            \t- (string) (len=11) \"price_cents\"\n" +
				"    \t            \t-}\n    \tTest:       \tTestX/bad_type\n    \tMessages:   \tPOST /products: field errors"},
	}
	for _, tt := range tests {
		if got := firstFailure(tt.out); got != tt.want {
			t.Errorf("%s: firstFailure() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRunNoDWARF: a test binary linked without DWARF still reports a panic with the file and line of its
// cause, because stack traces come from the line table that -ldflags=-w keeps.
func TestRunNoDWARF(t *testing.T) {
	rep, err := fixtureRunner(t).Run(context.Background(), Request{Packages: []string{"./panics"}, Run: "^TestLookup$", NoCache: true, NoDWARF: true}, nil)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	got := Fold(rep, []*course.Exercise{ex("panic", "./panics", "^TestLookup$")})[0]
	if got.Status != StatusFail || len(got.Tests) != 1 || !got.Tests[0].Panic {
		t.Fatalf("result = %+v, want TestLookup failed with a panic", got)
	}
	if out := got.Tests[0].Output; !strings.Contains(out, "panics.go:5") {
		t.Errorf("TestLookup output = %q, want the panic's stack trace to name panics.go:5", out)
	}
}
