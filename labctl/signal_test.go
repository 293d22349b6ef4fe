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

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
	"github.com/gomicrolab/microlab/labctl/internal/tmuxtest"
)

// TestCtrlCExits130 interrupts each long-running command while its test binary runs: every one exits
// 130 and leaves no process behind in the package's directory.
func TestCtrlCExits130(t *testing.T) {
	bin := buildLabctl(t)
	for _, args := range [][]string{{"watch", "00-add"}, {"verify", "00-add"}} {
		t.Run(args[0], func(t *testing.T) {
			root := labtest.Course(t)
			labtest.Write(t, root, "chapters/00-demo/calc/slow_test.go",
				"package calc\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestAddSlowly(t *testing.T) { time.Sleep(time.Minute) }\n")
			pkgDir := filepath.Join(root, "chapters", "00-demo", "calc")
			cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
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
				t.Fatalf("the test binary never started; stderr %q", stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			var exit *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Errorf("labctl %v after SIGINT = %v, want exit status 130 (stderr %q)", args, err, stderr.String())
			}
			if !poll(func() bool { return len(processesIn(pkgDir)) == 0 }) {
				t.Errorf("processes still running in %s after SIGINT: %v", pkgDir, processesIn(pkgDir))
			}
		})
	}
}

// TestTUICtrlCExits130: in the UI the terminal is raw, so Ctrl-C arrives as a key. Leaving with it is an
// interruption like anywhere else (exit 130); leaving with q is not.
func TestTUICtrlCExits130(t *testing.T) {
	bin := buildLabctl(t)
	for _, tt := range []struct {
		key  string
		want int
	}{{"C-c", 130}, {"q", 0}} {
		t.Run(tt.key, func(t *testing.T) {
			root := labtest.Course(t)
			codeFile := filepath.Join(t.TempDir(), "code")
			script := strconv.Quote(bin) + " --root " + strconv.Quote(root) + " --lang en; echo $? > " + strconv.Quote(codeFile)
			s := tmuxtest.Start(t, 120, 40, "sh", "-c", script)
			s.WaitScreen("00-add")
			s.Keys(tt.key)
			s.WaitExit()
			data, err := os.ReadFile(codeFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(data)); got != strconv.Itoa(tt.want) {
				t.Errorf("labctl (TUI) after %s exited %s, want %d", tt.key, got, tt.want)
			}
		})
	}
}
