package infra

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests start a server through the native provider in a child test binary, kill that binary with
// SIGKILL half-way through the start (as a timeout, Ctrl-C or a crashed IDE would), and check that no server
// process of its work directory survives, and that the next start sweeps the directory it left.

const envInterruptChild = "LAB_INFRA_INTERRUPT_CHILD"

// interruptChild is the child side, run from TestMain: it starts native MySQL and never returns on its own.
func interruptChild(phase string) {
	if phase == "server" {
		beforeReadyHook = func() { select {} } // hold the start while the server boots
	}
	_, err := startNativeMySQL(context.Background())
	fmt.Fprintf(os.Stderr, "start returned (%v) before the parent killed this process\n", err)
	os.Exit(2)
}

func TestInterruptedStartLeavesNoProcess(t *testing.T) {
	if err := (nativeProvider{}).Available(context.Background(), MySQLService); err != nil {
		if !required(os.Getenv(envConformanceProviders), ProviderNative, MySQLService) {
			t.Skipf("native MySQL is not available and %s does not require it: %v", envConformanceProviders, err)
		}
		t.Fatalf("%s native MySQL: %v", UnavailablePrefix, err)
	}
	tests := []struct {
		phase    string
		template bool // whether the data-directory template exists before the start
	}{
		{phase: "initialize", template: false}, // killed while mariadb-install-db runs
		{phase: "server", template: true},      // killed while the server boots
	}
	for _, tt := range tests {
		t.Run(tt.phase, func(t *testing.T) {
			tmp, err := os.MkdirTemp("", "mlx") // short: a Unix socket path must stay under 108 bytes
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			t.Setenv("TMPDIR", tmp)
			if tt.template {
				if _, err := mysqlTemplate(context.Background(), mustFindMySQL(t)); err != nil {
					t.Fatalf("prepare template: %v", err)
				}
			}
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), envInterruptChild+"="+tt.phase)
			var out bytes.Buffer
			child.Stdout, child.Stderr = &out, &out
			if err := child.Start(); err != nil {
				t.Fatalf("start child: %v", err)
			}
			exited := make(chan struct{})
			go func() { child.Wait(); close(exited) }()

			deadline := time.Now().Add(30 * time.Second)
			for len(processesUnder(tmp, "mariadbd", "mysqld")) == 0 {
				select {
				case <-exited:
					t.Fatalf("child exited before its server started:\n%s", out.String())
				default:
				}
				if time.Now().After(deadline) {
					child.Process.Kill()
					t.Fatalf("no server process under %s after 30s:\n%s", tmp, out.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := child.Process.Kill(); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			<-exited

			eventually(t, 20*time.Second, "no server process survives the killed test binary", func() error {
				if left := processesUnder(tmp, ""); len(left) > 0 {
					return errorf("still running: %s", strings.Join(left, "; "))
				}
				return nil
			})
			root := filepath.Join(tmp, "microlab-infra")
			if templates, _ := filepath.Glob(filepath.Join(root, "template_mysql_*")); !tt.template && len(templates) > 0 {
				t.Errorf("a template exists (%v): the child was killed after initialization, not during it", templates)
			}
			sweepStale(root)
			entries, _ := os.ReadDir(root)
			for _, e := range entries {
				if ownerPID(e.Name()) == child.Process.Pid {
					t.Errorf("work directory %s of the killed process is still there after a sweep", e.Name())
				}
			}
		})
	}
}

func mustFindMySQL(t *testing.T) mysqlBinary {
	t.Helper()
	b, err := findMySQL(context.Background())
	if err != nil {
		t.Fatalf("%s %v", UnavailablePrefix, err)
	}
	return b
}

// processesUnder lists the processes whose command line mentions dir (and one of names, if given),
// as "pid cmdline". Zombies (exited, not yet reaped) do not count: they hold no resources.
func processesUnder(dir string, names ...string) []string {
	procs, _ := os.ReadDir("/proc")
	var found []string
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a zombie
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		if !strings.Contains(cmdline, dir) {
			continue
		}
		if len(names) > 0 && names[0] != "" && !containsAny(cmdline, names) {
			continue
		}
		found = append(found, p.Name()+" "+cmdline)
	}
	return found
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
