//go:build !linux

package infra

// The interrupted-start test reads /proc, so it runs on Linux only (CI's platform).
func interruptChild(string) {}

const envInterruptChild = "LAB_INFRA_INTERRUPT_CHILD"
