package shutdown

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Main runs the service until SIGTERM (what Kubernetes, systemd and docker stop send) or SIGINT (Ctrl-C),
// and returns the process's exit code: 0 after a clean shutdown, 1 otherwise.
func Main(cfg Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// From now on a second signal kills the process at once: the way out when a shutdown hangs.
		stop()
	}()
	if err := Run(ctx, cfg); err != nil {
		log.Printf("shutdown: %v", err)
		return 1
	}
	return 0
}

// Run serves until ctx is done, then shuts down in order within cfg.Budget and returns nil if all went well.
//
// Start: database -> listener and consumer -> register -> ready.
// Stop: not ready -> deregister -> keep serving DrainDelay -> drain (HTTP and the message in flight) ->
// commit offsets -> close the database. Each step takes away only what no later step needs.
func Run(ctx context.Context, cfg Config) error {
	db, err := openDB(ctx, cfg.DSN)
	if err != nil {
		return err
	}
	defer db.Close() // on the early error paths; the normal path closes it explicitly, last
	a := newApp(db, cfg)

	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	cl, err := newConsumer(cfg)
	if err != nil {
		lis.Close()
		return err
	}
	defer cl.Close()

	// Work in flight runs under hard, not under ctx: the signal must not cut a request or a message half-way.
	// hard ends only when the budget is spent.
	hard, cutInFlight := context.WithCancel(context.WithoutCancel(ctx))
	defer cutInFlight()
	// A server or consumer that fails on its own shuts the instance down like a signal would.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)

	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return hard },
	}
	go func() {
		if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("serve: %w", err))
		}
	}()
	polling, stopPolling := context.WithCancel(hard)
	defer stopPolling()
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		if err := consume(polling, hard, cl, a); err != nil {
			fail(err)
		}
	}()

	if err := register(ctx, cfg, lis.Addr().(*net.TCPAddr)); err != nil {
		fail(err)
	} else {
		a.ready.Store(true)
	}
	<-ctx.Done()
	var errs []error
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
		errs = append(errs, cause) // not the signal: report why we stopped
	}

	// The whole shutdown fits in the budget. The drain gets four fifths of it: when those are spent, work still
	// in flight is cut off, and the last fifth is left for committing offsets and closing the database.
	budget, cancelBudget := context.WithTimeout(context.WithoutCancel(ctx), cfg.Budget)
	defer cancelBudget()
	drain, cancelDrain := context.WithTimeout(budget, cfg.Budget*4/5)
	defer cancelDrain()
	defer context.AfterFunc(drain, cutInFlight)()

	// 1. Not ready: whoever probes /readyz (a Kubernetes Service, a load balancer) stops sending new work.
	a.ready.Store(false)
	// 2. Leave the registry while still serving, so that clients reading Consul stop choosing this instance.
	if err := cfg.Consul.Agent().ServiceDeregisterOpts(cfg.ID, (&api.QueryOptions{}).WithContext(drain)); err != nil {
		errs = append(errs, fmt.Errorf("deregister %s: %w", cfg.ID, err))
	}
	// 3. Keep serving while those lists catch up: a request sent from a stale list still gets an answer.
	select {
	case <-time.After(cfg.DrainDelay):
	case <-drain.Done():
	}
	// 4. Drain: take no new work (the listener closes, polling stops), finish the work in flight.
	stopPolling()
	if err := srv.Shutdown(drain); err != nil {
		errs = append(errs, fmt.Errorf("drain http: %w", err))
	}
	select {
	case <-consumed:
	case <-drain.Done():
		errs = append(errs, fmt.Errorf("drain consumer: %w", drain.Err()))
	}
	// 5. Commit what was processed (marked records only), then leave the group: the next instance resumes there.
	if err := cl.CommitMarkedOffsets(budget); err != nil {
		errs = append(errs, fmt.Errorf("commit offsets: %w", err))
	}
	cl.Close()
	// 6. The database goes last: every step above may still need it.
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close mysql: %w", err))
	}
	return errors.Join(errs...)
}

// consume polls until polling is done, processes each record under work and marks it for the commit only once
// it was processed. A record polled but not processed is not marked, so it is delivered again.
func consume(polling, work context.Context, cl *kgo.Client, a *app) error {
	for {
		fetches := cl.PollFetches(polling)
		if polling.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		for _, rec := range fetches.Records() {
			if polling.Err() != nil {
				return nil // stopping: leave the rest for the next instance
			}
			if err := a.handleEvent(work, rec); err != nil {
				return err
			}
			cl.MarkCommitRecords(rec)
		}
	}
}

// register puts the instance in Consul under a bounded context that shutdown does not cut half-way.
func register(ctx context.Context, cfg Config, addr *net.TCPAddr) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := cfg.Consul.Agent().ServiceRegisterOpts(registration(cfg, addr), api.ServiceRegisterOpts{}.WithContext(rctx)); err != nil {
		return fmt.Errorf("register %s at %s: %w", cfg.ID, addr, err)
	}
	return nil
}
