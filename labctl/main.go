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
	// Ctrl-C cancels the context: a running check kills its go test process group and exits 130.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
