// Command probed serves chapter 10's probes (package probes) in front of MySQL and a background worker, with two
// switches to break things: a fault proxy in front of MySQL, and a job that deadlocks the worker. From chapters/,
// with MySQL from `labctl infra up`:
//
//	go run ./10-deploy/cmd/probed &                      # probes on 127.0.0.1:8101
//	curl -s -w ' %{http_code}\n' localhost:8101/livez    # ok 200
//	curl -s -w ' %{http_code}\n' localhost:8101/readyz   # ready 200
//	curl -s -XPOST localhost:8101/debug/mysql/down       # MySQL unreachable: readyz 503, livez still 200
//	curl -s -XPOST localhost:8101/debug/mysql/up         # readyz back to 200 by itself
//	curl -s -XPOST localhost:8101/debug/deadlock         # the worker gets stuck: livez 503 after -max-stall
//
// (The commands assume you ran `eval "$(go run ./labctl infra up mysql)"` at the repository root, then `cd chapters`.)
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/gomicrolab/microlab/chapters/10-deploy/probes"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8101", "HTTP listen address")
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN (default $LAB_MYSQL_DSN)")
	timeout := flag.Duration("timeout", 500*time.Millisecond, "bound on one readiness check (shorter than the prober's timeoutSeconds, 1 s by default)")
	maxStall := flag.Duration("max-stall", 5*time.Second, "liveness fails when the worker has not beaten for this long")
	flag.Parse()
	if *dsn == "" {
		log.Fatal(errors.New("no MySQL: set LAB_MYSQL_DSN (eval \"$(go run ./labctl infra up mysql)\" at the repository root) or pass -dsn"))
	}
	cfg, err := mysql.ParseDSN(*dsn)
	if err != nil {
		log.Fatalf("-dsn: %v", err)
	}
	// Every connection to MySQL goes through an in-process fault proxy that the /debug routes switch off and on.
	proxy := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop()),
		"mysql", "127.0.0.1:0", cfg.Addr)
	if err := proxy.Start(); err != nil {
		log.Fatal(err)
	}
	defer proxy.Stop()
	cfg.Addr = proxy.Listen
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hb := &probes.Heartbeat{}
	worker := &probes.Worker{Jobs: make(chan func()), Beat: hb, Every: time.Second}
	go worker.Run(ctx)
	checker := &probes.Checker{DB: db, Worker: hb, Timeout: *timeout, MaxStall: *maxStall}

	mux := http.NewServeMux()
	mux.Handle("/", checker.Handler())
	mux.HandleFunc("POST /debug/mysql/down", func(w http.ResponseWriter, r *http.Request) {
		proxy.Stop()
		fmt.Fprintln(w, "mysql is down")
	})
	mux.HandleFunc("POST /debug/mysql/up", func(w http.ResponseWriter, r *http.Request) {
		if err := proxy.Start(); err != nil {
			http.Error(w, "proxy did not start", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "mysql is up")
	})
	mux.HandleFunc("POST /debug/deadlock", func(w http.ResponseWriter, r *http.Request) {
		select {
		case worker.Jobs <- func() { select {} }: // never returns, like a lock taken twice
			fmt.Fprintln(w, "the worker is stuck")
		case <-time.After(2 * time.Second):
			http.Error(w, "the worker takes no job (already stuck?)", http.StatusConflict)
		}
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("probes on http://%s/livez and /readyz", *addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	<-stopped // ListenAndServe returns as soon as Shutdown starts: wait for the requests in flight
}
