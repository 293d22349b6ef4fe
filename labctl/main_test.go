package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
	"github.com/gomicrolab/microlab/labctl/internal/tmuxtest"
)

// buildLabctl builds this command into the test's temp dir.
func buildLabctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "labctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build labctl: %v\n%s", err, out)
	}
	return bin
}

// TestTmuxRealCheck is the end-to-end smoke test: the real labctl binary, in a real terminal, on a copy
// of the fixture course. Enter on the first unsolved exercise runs the real go test, and the screen
// must show that test's own failure message.
func TestTmuxRealCheck(t *testing.T) {
	bin := buildLabctl(t)
	root := labtest.Course(t)
	s := tmuxtest.Start(t, 120, 40, bin, "--root", root, "--lang", "en")
	s.WaitScreen("00-add", "00-greet") // resumes at 00-add: nothing is checked yet
	s.Keys("Enter")
	s.WaitScreen("Add(2, 3) = 0, want 5") // calc_test.go's t.Errorf, through the real runner
	s.Keys("q")
	s.WaitExit()
}

// TestSignalLeavesNoTestProcess stops `labctl check` while a test sleeps: go test runs in a process
// group of its own, so unless labctl kills it, the test binary outlives labctl.
func TestSignalLeavesNoTestProcess(t *testing.T) {
	bin := buildLabctl(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			root := labtest.Course(t)
			labtest.Write(t, root, "chapters/00-demo/calc/slow_test.go",
				"package calc\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestAddSlowly(t *testing.T) { time.Sleep(time.Minute) }\n")
			pkgDir := filepath.Join(root, "chapters", "00-demo", "calc")
			cmd := exec.Command(bin, "--root", root, "check", "00-add", "--no-cache")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				for _, p := range processesIn(pkgDir) { // only when the test failed: do not leave them behind
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			})
			if !poll(func() bool { return slices.ContainsFunc(processesIn(pkgDir), isTestBinary) }) {
				t.Fatal("the test binary never started")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Errorf("labctl check after %v = %v, want exit status 130", sig, err)
			}
			if !poll(func() bool { return len(processesIn(pkgDir)) == 0 }) {
				t.Errorf("processes still running in %s after %v: %v", pkgDir, sig, processesIn(pkgDir))
			}
		})
	}
}

// poll calls cond until it holds, for at most 30 s.
func poll(cond func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

type process struct {
	pid int
	cmd string
}

// processesIn lists the processes working in dir (go runs the compiler and the test binary in the
// package's directory).
func processesIn(dir string) []process {
	var out []process
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if cwd, err := os.Readlink(filepath.Join(p, "cwd")); err == nil && strings.HasPrefix(cwd, dir) {
			pid, _ := strconv.Atoi(filepath.Base(p))
			cmd, _ := os.ReadFile(filepath.Join(p, "cmdline"))
			out = append(out, process{pid: pid, cmd: strings.ReplaceAll(string(cmd), "\x00", " ")})
		}
	}
	return out
}

func isTestBinary(p process) bool { return strings.Contains(p.cmd, "calc.test ") }
