//go:build !unix

package runner

import "os/exec"

// OwnProcessGroup is a no-op where process groups do not exist; cancel kills the go command only.
func OwnProcessGroup(cmd *exec.Cmd) {}
