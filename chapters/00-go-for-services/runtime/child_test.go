package runtimedemo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Some behaviours end the whole process, so they cannot be shown inside a test: the test runs the
// test binary again with childEnv set to the name of a child program, and TestMain runs that
// program instead of the tests.
const childEnv = "RUNTIMEDEMO_CHILD"

var children = map[string]func(){
	"concurrent-map-writes": childConcurrentMapWrites,
	"goroutine-panic":       childGoroutinePanic,
	"spinning-goroutine":    childSpinningGoroutine,
	"schedtrace":            childSchedtrace,
	"force-gc":              childForceGC,
}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		run, ok := children[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown child %q\n", name)
			os.Exit(3)
		}
		run()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childTimeout is generous: each child finishes in milliseconds on an idle machine, and the
// limit only turns a hang into a clear failure on a loaded one.
const childTimeout = 60 * time.Second

// child prepares the test binary to run the named child program with extra environment variables.
func child(ctx context.Context, name string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// Under -race the child is a race binary too, and the race runtime sleeps 1 s at exit by default.
	cmd.Env = append(os.Environ(), childEnv+"="+name, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runChild runs the named child to completion and returns its combined output and exit code.
func runChild(t *testing.T, name string, env ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	out, err := child(ctx, name, env...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("child %q still running after %v: want it to exit on its own; output:\n%s", name, childTimeout, out)
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("run child %q: %v", name, err)
	}
	return string(out), 0
}
