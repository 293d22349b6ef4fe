// Command shop runs the chapter's system on loopback: payments behind a fault proxy, and the order service in
// front of it, naive or with what you built in this chapter (limiter, breaker, retry with budget, bulkhead and
// fallback, load shedding). Switch payment latency at run time and watch the counters:
//
//	go run ./06-resilience/cmd/shop -mode resilient
//	curl -s -XPOST 'localhost:8090/admin/payments?latency=1s'
//	curl -s localhost:8090/stats
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/gomicrolab/microlab/chapters/06-resilience/breaker"
	"github.com/gomicrolab/microlab/chapters/06-resilience/bulkhead"
	"github.com/gomicrolab/microlab/chapters/06-resilience/ratelimit"
	"github.com/gomicrolab/microlab/chapters/06-resilience/retry"
	"github.com/gomicrolab/microlab/chapters/06-resilience/shed"
	"github.com/gomicrolab/microlab/chapters/06-resilience/shop"
)

func main() {
	mode := flag.String("mode", "resilient", "naive: the order path before this chapter; resilient: with limiter, shedder, breaker, retry, bulkhead and fallback")
	admin := flag.String("admin", "127.0.0.1:8090", "admin address: /admin/payments and /stats")
	latency := flag.Duration("latency", 0, "initial payment latency")
	flag.Parse()

	var (
		br        = breaker.New(breaker.Config{Threshold: 5, OpenFor: 5 * time.Second, Probes: 2})
		budget    = retry.NewBudget(10, 0.1)
		limiter   = &ratelimit.TokenBucket{Rate: 100, Burst: 50}
		payer     *bulkhead.Payer
		limited   atomic.Int64
		shedder   = shed.New(shed.Config{Target: 500 * time.Millisecond, Min: 4, Max: 200, Initial: 50, Backoff: 0.75})
		shedded   atomic.Int64
		cfg       = shop.Config{PoolSize: 10, HoldPool: true}
		resilient = *mode == "resilient"
	)
	if resilient {
		cfg.RequestTimeout = time.Second
		cfg.Pay = func(c *shop.Charger) shop.PayFunc {
			charge := func(ctx context.Context, cents int64) error {
				return br.Do(ctx, func(ctx context.Context) error {
					return retry.Do(ctx, retry.Policy{Attempts: 2, Base: 20 * time.Millisecond, Cap: 100 * time.Millisecond,
						Retryable: transient, Budget: budget}, func(ctx context.Context) error { return c.Charge(ctx, cents) })
				})
			}
			payer = &bulkhead.Payer{Charge: charge, Bulkhead: bulkhead.New(8), Budget: 300 * time.Millisecond}
			return payer.Pay
		}
		cfg.Wrap = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && !limiter.Allow(time.Now()) {
					limited.Add(1)
					http.Error(w, `{"error":"too many requests"}`, http.StatusTooManyRequests)
					return
				}
				done, err := shedder.Allow()
				if err != nil {
					shedded.Add(1)
					w.Header().Set("Retry-After", "1")
					http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
					return
				}
				defer done()
				next.ServeHTTP(w, r)
			})
		}
	}
	sys, err := shop.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	if err := sys.Proxy.SetLatency(*latency); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/payments", func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("latency"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				http.Error(w, "latency: a Go duration such as 800ms", http.StatusBadRequest)
				return
			}
			_ = sys.Proxy.SetLatency(d)
		}
		switch r.URL.Query().Get("down") {
		case "true":
			sys.Proxy.Down()
		case "false":
			_ = sys.Proxy.Up()
		}
		fmt.Fprintf(w, "payment latency %v\n", sys.Proxy.Latency())
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		stats := map[string]any{
			"mode":             *mode,
			"payment_latency":  sys.Proxy.Latency().String(),
			"payment_calls":    sys.Payments.Calls(),
			"orders_in_flight": sys.App.Inflight(),
			"peak_in_flight":   sys.App.PeakInflight(),
			"db_conns_in_use":  len(sys.App.Pool),
			"breaker_state":    br.State().String(),
			"retry_tokens":     budget.Tokens(),
			"rate_limited":     limited.Load(),
			"shed":             shedded.Load(),
			"shed_limit":       shedder.Limit(),
			"orders_deferred":  int64(0),
			"bulkhead_in_use":  0,
		}
		if payer != nil {
			stats["orders_deferred"] = payer.Deferred()
			stats["bulkhead_in_use"] = payer.Bulkhead.InUse()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(stats)
	})
	lis, err := net.Listen("tcp", *admin)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Close()

	fmt.Printf("mode %s\norder service  %s   (POST /orders?cents=500, GET /users/1)\nadmin          http://%s   (POST /admin/payments?latency=1s | ?down=true | ?down=false, GET /stats)\n",
		*mode, sys.URL, lis.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
}

// transient says which payment errors are worth a retry: not a 4xx, not the caller's own end.
func transient(err error) bool {
	var se *shop.StatusError
	if errors.As(err, &se) {
		return se.Code >= 500
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}
