package infra

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if phase := os.Getenv(envInterruptChild); phase != "" {
		interruptChild(phase) // never returns
	}
	if os.Getenv(envConsulOwnerChild) != "" {
		consulOwnerChild() // never returns
	}
	if statePath := os.Getenv(envServeChild); statePath != "" {
		serveChild(statePath) // never returns
	}
	os.Exit(Main(m))
}
