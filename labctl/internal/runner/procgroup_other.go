//go:build !unix

package runner

import "os/exec"

// ownProcessGroup is a no-op where process groups do not exist; cancel kills the go command only.
func ownProcessGroup(cmd *exec.Cmd) {}
