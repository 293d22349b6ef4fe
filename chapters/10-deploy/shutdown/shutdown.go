package shutdown

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Main runs the service until SIGTERM (what Kubernetes, systemd and docker stop send) or SIGINT (Ctrl-C),
// and returns the process's exit code: 0 after a clean shutdown, 1 otherwise.
func Main(cfg Config) int {
	// TODO(10-shutdown): turn SIGTERM and SIGINT into a cancelled context (signal.NotifyContext), call Run with it
	// and map its error to the exit code. Never os.Exit from a signal handler: Run must get to shut down.
	fmt.Fprintln(os.Stderr, "TODO(10-shutdown): Main does not handle signals or run the service yet")
	return 3
}

// Run serves until ctx is done, then shuts down in order within cfg.Budget and returns nil if all went well.
func Run(ctx context.Context, cfg Config) error {
	// TODO(10-shutdown): start in this order: openDB, newApp, listen on cfg.Addr and serve a.routes() with an
	// http.Server, start consume in a goroutine with newConsumer, register in Consul (registration), and only then
	// a.ready.Store(true).
	// When ctx is done, within cfg.Budget (context.WithTimeout): not ready (a.ready.Store(false)) -> deregister
	// -> keep serving for cfg.DrainDelay -> drain (srv.Shutdown, stop polling and wait for the message in flight)
	// -> commit what was processed (CommitMarkedOffsets) and close the consumer -> close the database.
	// Work in flight must not run under ctx (the signal would cut it): give the server a BaseContext and the
	// consumer a context of their own that ends only when the budget is spent.
	return errors.New("TODO(10-shutdown): Run does not serve or shut down yet")
}

// consume polls records until polling is done and processes each with a.handleEvent under work. Mark a record
// for the commit (cl.MarkCommitRecords) only once it was processed.
func consume(polling, work context.Context, cl *kgo.Client, a *app) error {
	// TODO(10-shutdown): loop on cl.PollFetches(polling); return nil once polling is done or the client is closed.
	return errors.New("TODO(10-shutdown): consume does not poll yet")
}
