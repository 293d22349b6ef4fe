// Package probes answers the two questions Kubernetes (and any load balancer) asks an instance:
// liveness, "is this process stuck, so that only a restart helps?", and readiness, "may I send it traffic now?".
// Mixing them up turns a database outage into a restart storm, or leaves a deadlocked process in service.
package probes

import (
	"context"
	"database/sql"
	"net/http"
	"sync/atomic"
	"time"
)

// Heartbeat records when a loop last made progress.
type Heartbeat struct {
	last atomic.Int64 // unix nanoseconds of the last beat; 0 before the first
}

// Beat records progress now.
func (h *Heartbeat) Beat() { h.last.Store(time.Now().UnixNano()) }

// Age is how long ago the last beat was; a very long time before the first beat.
func (h *Heartbeat) Age() time.Duration {
	last := h.last.Load()
	if last == 0 {
		return time.Duration(1<<63 - 1)
	}
	return time.Since(time.Unix(0, last))
}

// Worker runs background jobs one at a time (think: the loop that applies events to a local cache).
type Worker struct {
	Jobs  chan func()   // jobs to run
	Beat  *Heartbeat    // shows that the loop makes progress
	Every time.Duration // how often the loop beats while it has nothing to do
}

// Run takes jobs until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	// TODO(10-probes): loop: beat w.Beat, then wait for a job, a tick of a time.Ticker (w.Every) or ctx.Done();
	// run the job in this loop. The beat must come from this loop itself: a loop stuck in a job stops beating.
	<-ctx.Done()
}

// Checker serves the probes of an instance that needs DB and runs a Worker.
type Checker struct {
	DB       *sql.DB
	Worker   *Heartbeat    // the worker's heartbeat
	Timeout  time.Duration // bound on one readiness check (the kubelet gives up after timeoutSeconds, 1 s by default)
	MaxStall time.Duration // the worker is stuck when it has not beaten for this long
}

// Handler serves GET /livez and GET /readyz.
func (c *Checker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", c.Live)
	mux.HandleFunc("GET /readyz", c.Ready)
	return mux
}

// Live answers 200 while the process can make progress and 503 when only a restart can help.
func (c *Checker) Live(w http.ResponseWriter, r *http.Request) {
	// TODO(10-probes): 503 when the worker has not beaten for MaxStall, else 200. Check nothing outside the
	// process: a restart does not fix the database.
	http.Error(w, "TODO(10-probes): liveness not implemented", http.StatusNotImplemented)
}

// Ready answers 200 while the instance can serve traffic and 503 while it cannot (its database is down).
func (c *Checker) Ready(w http.ResponseWriter, r *http.Request) {
	// TODO(10-probes): ping the database under a deadline of Timeout (PingContext), on every probe; 503 on error.
	http.Error(w, "TODO(10-probes): readiness not implemented", http.StatusNotImplemented)
}
