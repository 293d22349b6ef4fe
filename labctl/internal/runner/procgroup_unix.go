//go:build unix

package runner

import (
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// OwnProcessGroup puts a command (go test, gremlins) in a process group of its own, so that cancelling kills the test
// binaries and anything they started, not just the go command.
func OwnProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// waitGroupGone waits, at most timeout, until no process of cmd's group is left. Cancel kills the group, but
// Wait waits for the go command only: the test binaries may still be exiting, and whoever cleans up after
// them (a sweep of their Consul registrations) must see them dead. A zombie that nobody reaps counts as
// present, hence the bound.
func waitGroupGone(cmd *exec.Cmd, timeout time.Duration) {
	if cmd.Process == nil {
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-cmd.Process.Pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
