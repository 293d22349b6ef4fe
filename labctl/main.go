// Command labctl is the microservices lab: `labctl` opens the terminal UI; `labctl --help` lists the
// commands and the exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gomicrolab/microlab/labctl/internal/cli"
)

func main() {
	// Ctrl-C (and a closed terminal, SIGHUP) cancels the context: a running check kills its go test
	// process group, which lives in a group of its own and would otherwise outlive labctl.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
