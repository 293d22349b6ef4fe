//go:build unix

package runner

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts go test in a process group of its own, so that cancelling kills the test
// binaries and anything they started, not just the go command.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
