//go:build windows

package infra

import (
	"errors"
	"syscall"
)

type serverUser struct{ uid int }

func unprivilegedUser(...string) (serverUser, error) {
	return serverUser{}, errors.New("native servers that refuse root are started on Unix only")
}

func (serverUser) apply(attr *syscall.SysProcAttr) *syscall.SysProcAttr { return attr }
func (serverUser) own(string) error                                     { return nil }

func interruptGroup(pid int) error       { return killGroup(pid) }
func (serverUser) canReach(string) error { return nil }
