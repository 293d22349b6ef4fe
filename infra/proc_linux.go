//go:build linux

package infra

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// childAttr puts a server in its own process group, so that Stop can kill it with anything it forked,
// and asks the kernel to SIGKILL it when its parent dies. Go has no exit hook for test binaries, so the
// parent-death signal is what stops a shared server when `go test` ends, times out or is killed.
// (The kernel sends it when the OS thread that forked the child exits; Go only ends threads whose goroutine
// exits while locked with runtime.LockOSThread, which nothing here does.)
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// detachedAttr starts a server that outlives its parent (labctl infra up): a new session, no parent-death signal.
func detachedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}

// runsIn reports whether process pid works in dir or below it, as a server of this package does (the native
// provider starts each in its own directory; mariadbd moves to its data directory under it).
func runsIn(pid int, dir string) bool {
	if dir == "" {
		return false
	}
	cwd, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
	if err != nil {
		return false
	}
	return cwd == dir || strings.HasPrefix(cwd, dir+string(filepath.Separator))
}
