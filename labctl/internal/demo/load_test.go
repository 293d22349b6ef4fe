package demo

import (
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoLoad runs `labctl demo --load` with small bounds: every path of the load test must be measured with
// no failed request, every process's memory must be read, and the demo must stop everything afterwards.
func TestDemoLoad(t *testing.T) {
	root, bin := buildLabctl(t)
	state := t.TempDir()
	prefix := "capstone-t" + randID() + "-"
	t.Cleanup(func() { dropDatabases(t, state, prefix) })
	const requests = 30
	cmd := exec.Command(bin, "--root", root, "--lang", "en", "demo", "--prefix", prefix, "--state-dir", state,
		"--load", "--requests", strconv.Itoa(requests), "--duration", "60s", "--clients", "2")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == exitInfra {
			t.Fatalf("infra unavailable: labctl demo cannot start its infrastructure (MySQL, Consul): %v\n%s", err, stderr.String())
		}
		if err != nil {
			t.Fatalf("labctl demo --load = %v, want success; stdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		}
	case <-time.After(8 * time.Minute): // a cold build, cold infrastructure and five bounded paths on two busy cores
		_ = cmd.Process.Kill()
		t.Fatalf("labctl demo --load still runs after 8 minutes; stderr:\n%s", stderr.String())
	}
	out := stdout.String()
	for _, path := range []string{PathBare, PathRead, PathUser, PathPlace, PathPay} {
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(path) + ` \| (\d+) \| (\d+) \| (\d+) \|`).FindStringSubmatch(out)
		if row == nil {
			t.Errorf("no row for %q in the load report:\n%s", path, out)
			continue
		}
		if row[1] != strconv.Itoa(requests) || row[2] != "0" || row[3] == "0" {
			t.Errorf("%s: %s requests, %s errors, %s req/s; want %d requests, 0 errors, a throughput: the bounds cap each path and the system answers every request",
				path, row[1], row[2], row[3], requests)
		}
	}
	for _, part := range []string{"user", "payment", "order-1", "order-2", "gateway", "baregin"} {
		m := regexp.MustCompile(`(?m)^\| ` + part + ` \| ([0-9.]+) MiB \| ([0-9.]+) MiB \|`).FindStringSubmatch(out)
		if m == nil || m[1] == "0.0" || m[2] == "0.0" {
			t.Errorf("memory of %s: %v, want its RSS and peak RSS in the report:\n%s", part, m, out)
		}
	}
	// Every process the demo started is gone (its PIDs are in the last demo.json written).
	st := readStateFile(t, state)
	if len(st.PIDs) != 6 {
		t.Errorf("%s lists %d parts %v, want 6 (the five of the system and the baseline)", StateFile, len(st.PIDs), st.PIDs)
	}
	for _, pid := range st.PIDs {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after labctl demo --load returned (kill -0 = %v)", pid, err)
		}
	}
}
