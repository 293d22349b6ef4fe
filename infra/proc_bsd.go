//go:build unix && !linux

package infra

import "syscall"

// childAttr puts a server in its own process group. Without Linux's parent-death signal a server can outlive
// a killed test binary; the next start removes what it left (see sweepStale).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// detachedAttr starts a server that outlives its parent (labctl infra up).
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// runsIn cannot see another process's working directory here without cgo, so it trusts a live pid that has a
// work directory recorded.
func runsIn(pid int, dir string) bool { return dir != "" }
