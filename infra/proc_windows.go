//go:build windows

package infra

import (
	"os"
	"syscall"
)

func childAttr() *syscall.SysProcAttr    { return nil }
func detachedAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func terminateGroup(pid int) error { return killGroup(pid) }

// pidAlive is conservative on Windows: a directory is never swept as stale.
func pidAlive(int) bool { return true }

// runsIn is conservative on Windows: a recorded process is never killed by pid.
func runsIn(int, string) bool { return false }
