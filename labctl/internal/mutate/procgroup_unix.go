//go:build unix

package mutate

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts gremlins in a process group of its own, so that a timeout or an interrupt
// kills its go test runs and their test binaries too, not only gremlins.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
