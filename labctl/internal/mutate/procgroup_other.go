//go:build !unix

package mutate

import "os/exec"

// ownProcessGroup is a no-op where process groups do not exist; cancel kills gremlins only.
func ownProcessGroup(cmd *exec.Cmd) {}
