package infra

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
)

// A server PID in a stale state file may belong to an unrelated process by now: down must leave that alone.
func TestDownLeavesAReusedPIDAlone(t *testing.T) {
	other := exec.Command("sleep", "30")
	other.Dir = t.TempDir()
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })

	statePath := filepath.Join(t.TempDir(), "infra.json")
	st := &State{PID: exitedPID(t), Instances: []StateInstance{
		{Service: RedisService, Provider: ProviderNative, PID: other.Process.Pid, Dir: filepath.Join(t.TempDir(), "redis-1-x")},
	}}
	if err := writeState(statePath, st); err != nil {
		t.Fatal(err)
	}
	if _, err := stopServing(context.Background(), statePath); err != nil {
		t.Fatalf("stopServing: %v", err)
	}
	if !pidAlive(other.Process.Pid) {
		t.Errorf("stopServing killed process %d, which runs outside the server's directory", other.Process.Pid)
	}
	if !runsIn(other.Process.Pid, other.Dir) {
		t.Errorf("runsIn(%d, %s) = false for a process started there, want true", other.Process.Pid, other.Dir)
	}
}
