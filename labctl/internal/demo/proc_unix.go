//go:build unix

package demo

import "syscall"

// procAttr puts a part in a process group of its own: a Ctrl-C on the terminal reaches labctl only, and labctl
// stops each part by its PID.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
