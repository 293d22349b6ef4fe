//go:build unix

package infra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run `labctl infra up`'s machinery with this test binary as the serving process (serveChild).

const envServeChild = "LAB_INFRA_SERVE_CHILD"

// serveChild is the serving process, run from TestMain: what `labctl infra serve` does, for Redis and Kafka.
func serveChild(statePath string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	if err := Serve(ctx, []Service{RedisService, KafkaService}, statePath, logf); err != nil {
		logf("serve: %v", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestUpStatusDown(t *testing.T) {
	// Native Redis where it is installed (so that the test sees a server process go), else in-process.
	t.Setenv("LAB_INFRA", "redis=native,redis=inprocess,kafka=inprocess")
	statePath := filepath.Join(t.TempDir(), ".labctl", "infra.json")
	t.Setenv(envServeChild, statePath)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	st, err := Up(ctx, statePath, []string{os.Args[0], "-test.run=^$"})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { _, _ = stopServing(context.Background(), statePath) })
	if !pidAlive(st.PID) {
		t.Fatalf("Up returned state of process %d, which is not running", st.PID)
	}
	if again, err := Up(ctx, statePath, []string{"/nonexistent"}); err != nil || again.PID != st.PID {
		t.Errorf("second Up = (pid %v, %v), want the running process %d again", pidOf(again), err, st.PID)
	}
	for _, name := range []string{EnvRedisAddr, EnvKafkaBrokers} {
		if !slicesHasPrefix(st.Env, name+"=127.0.0.1:") {
			t.Errorf("Up env = %v, want %s on 127.0.0.1", st.Env, name)
		}
	}
	_, list, err := Status(ctx, statePath)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("Status lists %d servers, want 2", len(list))
	}
	for _, s := range list {
		if s.Err != nil {
			t.Errorf("Status: %s via %s does not answer: %v", s.Service, s.Provider, s.Err)
		}
	}

	done, err := stopServing(ctx, statePath)
	if err != nil {
		t.Fatalf("stopServing: %v (did: %v)", err, done)
	}
	if pidAlive(st.PID) {
		t.Errorf("serving process %d still runs after down", st.PID)
	}
	for _, in := range st.Instances {
		if in.PID > 0 && pidAlive(in.PID) {
			t.Errorf("%s process %d still runs after down", in.Service, in.PID)
		}
		if in.Dir != "" {
			if _, err := os.Stat(in.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s work directory %s still exists after down (stat: %v)", in.Service, in.Dir, err)
			}
		}
	}
	if _, err := ReadState(statePath); !errors.Is(err, ErrNotUp) {
		t.Errorf("ReadState after down = %v, want ErrNotUp", err)
	}
}

func TestUpGivenUpLetsTheServingProcessStop(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "stopped")
	// A serving process that never becomes ready, and records that it was asked to stop.
	script := fmt.Sprintf(`trap 'touch %q; exit 0' TERM; while :; do sleep 0.05; done`, marker)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	_, err := Up(ctx, filepath.Join(dir, ".labctl", "infra.json"), []string{"/bin/sh", "-c", script})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Up = %v, want context.DeadlineExceeded", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the serving process was not asked to stop before Up gave up (no marker: %v)", err)
	}
}

func pidOf(st *State) any {
	if st == nil {
		return nil
	}
	return st.PID
}

func slicesHasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// exitedPID returns the PID of a process that has already exited.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
