package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/consul/api"
)

func TestFindScenario(t *testing.T) {
	for i, sc := range Scenarios {
		for _, name := range []string{sc.Name, strconv.Itoa(i + 1)} {
			got, err := Find(name)
			if err != nil || got.Name != sc.Name {
				t.Errorf("Find(%q) = %q, %v; want %q", name, got.Name, err, sc.Name)
			}
		}
	}
	for _, bad := range []string{"", "0", strconv.Itoa(len(Scenarios) + 1), "checkou"} {
		if _, err := Find(bad); !errors.Is(err, ErrUnknownScenario) {
			t.Errorf("Find(%q) error = %v, want ErrUnknownScenario", bad, err)
		}
	}
}

// exitInfra is labctl's exit status for "infrastructure unavailable" (cli.ExitInfra; cli imports this package).
const exitInfra = 3

// TestDemoScenariosThenCtrlC runs the real `labctl demo` as a child process with the menu on its stdin: it
// must get healthy, run the checkout, killed-order and unpaid-order scenarios, and on a real SIGINT stop every
// process it started, free the gateway's port and leave none of its services in Consul.
func TestDemoScenariosThenCtrlC(t *testing.T) {
	root, bin := buildLabctl(t)
	state := t.TempDir()
	prefix := "capstone-t" + randID() + "-"
	cmd := exec.Command(bin, "--root", root, "--lang", "en", "demo", "--prefix", prefix, "--state-dir", state,
		"--pay-within", "3s") // short, so the unpaid-order scenario takes seconds
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	seen := map[int]bool{} // every part PID the demo ever reported
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // only when the test failed early
		for pid := range seen {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		dropDatabases(t, state, prefix)
	})
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	// waitFor reads output until a line starts with prefix; the child exiting first fails the test.
	waitFor := func(prefix string, timeout time.Duration) string {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					err := <-exited
					var ee *exec.ExitError
					if errors.As(err, &ee) && ee.ExitCode() == exitInfra {
						t.Fatalf("infra unavailable: labctl demo cannot start its infrastructure (MySQL, Consul): %v\n%s", err, stderr.String())
					}
					t.Fatalf("labctl demo exited (%v) before printing %q; stderr:\n%s", err, prefix, stderr.String())
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("labctl demo did not print %q within %v; stderr:\n%s", prefix, timeout, stderr.String())
			}
		}
	}
	readState := func() State {
		t.Helper()
		st := readStateFile(t, state)
		for _, pid := range st.PIDs {
			seen[pid] = true
		}
		return st
	}

	// A cold build of the capstone and a cold infrastructure take a while on two busy cores.
	waitFor("The capstone is running", 4*time.Minute)
	st := readState()
	if len(st.PIDs) != 5 {
		t.Fatalf("%s lists %d running parts %v, want 5 (user, payment, order-1, order-2, gateway)", StateFile, len(st.PIDs), st.PIDs)
	}
	for _, sc := range []string{"checkout", "kill-order", "unpaid-order"} {
		if _, err := io.WriteString(stdin, sc+"\n"); err != nil {
			t.Fatal(err)
		}
		if l := waitFor("== "+sc+" ", 2*time.Minute); !strings.HasPrefix(l, "== "+sc+" done") {
			t.Fatalf("scenario %s: %s; stderr:\n%s", sc, l, stderr.String())
		}
	}
	after := readState()
	if after.PIDs["order-1"] == st.PIDs["order-1"] || after.PIDs["order-1"] == 0 {
		t.Errorf("order-1 pid after kill-order = %d, before %d: want a new, restarted process", after.PIDs["order-1"], st.PIDs["order-1"])
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() { // keep draining stdout so that the child never blocks on a full pipe
		for range lines {
		}
	}()
	select {
	case err := <-exited:
		// 130 is how every labctl command reports Ctrl-C; anything else means the stop went wrong.
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("labctl demo after SIGINT = %v, want exit status 130; stderr:\n%s", err, stderr.String())
		}
		if strings.Contains(stderr.String(), "demo: stop:") {
			t.Errorf("labctl demo reported an error while stopping:\n%s", stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("labctl demo still runs 1 minute after SIGINT; stderr:\n%s", stderr.String())
	}
	for pid := range seen {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("part pid %d still exists after the demo stopped (kill -0 = %v): every process it started must be gone", pid, err)
		}
	}
	gw := strings.TrimPrefix(st.GatewayURL, "http://")
	if c, err := net.DialTimeout("tcp", gw, time.Second); err == nil {
		c.Close()
		t.Errorf("the gateway's port %s still accepts connections after the demo stopped", gw)
	}
	cfg := api.DefaultConfig()
	cfg.Address = st.ConsulAddr
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _, err := cl.Catalog().Services(nil)
	if err != nil {
		t.Fatalf("Consul catalog at %s: %v", st.ConsulAddr, err)
	}
	for name := range svcs {
		if strings.HasPrefix(name, prefix) {
			t.Errorf("Consul still lists %s after the demo stopped: a stopped demo must leave no registration", name)
		}
	}
}

// readStateFile reads the demo.json that a demo with --state-dir dir wrote last.
func readStateFile(t *testing.T, dir string) State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatalf("read %s: %v", StateFile, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("decode %s: %v", StateFile, err)
	}
	return st
}

// buildLabctl builds the real labctl into a temporary directory and returns the course root and the binary.
func buildLabctl(t *testing.T) (root, bin string) {
	t.Helper()
	root = courseRoot(t)
	bin = filepath.Join(t.TempDir(), "labctl")
	build := exec.Command("go", "build", "-o", bin, "./labctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	return root, bin
}

// courseRoot is the repository root: the directory above with chapters/course.toml.
func courseRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "chapters", "course.toml")); err == nil {
			return d
		}
	}
	t.Fatalf("no chapters/course.toml above %s", dir)
	return ""
}

// dropDatabases removes the test's capstone databases from the shared MySQL server.
func dropDatabases(t *testing.T, state, prefix string) {
	b, err := os.ReadFile(filepath.Join(state, StateFile))
	if err != nil {
		return // the demo never got that far
	}
	var st State
	if json.Unmarshal(b, &st) != nil || st.MySQLDSN == "" {
		return
	}
	cfg, err := mysql.ParseDSN(st.MySQLDSN)
	if err != nil {
		return
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, svc := range []string{"user", "order", "payment"} {
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+strings.ReplaceAll(prefix, "-", "_")+svc); err != nil {
			t.Logf("drop database: %v", err)
		}
	}
}

func randID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A part that dies while the system starts fails the wait at once with ErrUnhealthy, not after the timeout.
func TestWaitHealthyPartExited(t *testing.T) {
	dir := t.TempDir()
	s := &System{bin: "/bin/false", baseEnv: nil, StateDir: dir}
	p := &Part{Name: "order-1", Log: filepath.Join(dir, "order-1.log")}
	if err := s.spawn(p); err != nil {
		t.Fatalf("run /bin/false: %v", err)
	}
	<-p.done
	s.Parts = []*Part{p}
	start := time.Now()
	err := s.WaitHealthy(context.Background(), time.Minute)
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("WaitHealthy with an exited part = %v, want ErrUnhealthy", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("WaitHealthy took %v to notice an exited part, want at once", d)
	}
}
