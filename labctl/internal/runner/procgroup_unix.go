//go:build unix

package runner

import (
	"os/exec"
	"syscall"
)

// OwnProcessGroup puts a command (go test, gremlins) in a process group of its own, so that cancelling kills the test
// binaries and anything they started, not just the go command.
func OwnProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
