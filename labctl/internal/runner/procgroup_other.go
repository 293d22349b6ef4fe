//go:build !unix

package runner

import (
	"os/exec"
	"time"
)

// OwnProcessGroup is a no-op where process groups do not exist; cancel kills the go command only.
func OwnProcessGroup(cmd *exec.Cmd) {}

// waitGroupGone has no group to wait for here.
func waitGroupGone(*exec.Cmd, time.Duration) {}
