package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// fault delays every call a service answers by a duration that can be changed while it runs: labctl demo's
// "slow payment" scenario switches it on and off through the admin endpoint, and the slow call shows up as
// the payment service's server span in Jaeger.
type fault struct{ delay atomic.Int64 } // nanoseconds; 0 is off

func (f *fault) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if d := time.Duration(f.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done(): // the caller gave up: so does the fault, as a real slow dependency would not, but we must not leak
			return nil, ctx.Err()
		}
	}
	return handler(ctx, req)
}

// serveAdmin serves the admin endpoint on addr (loopback only) until ctx ends:
//
//	POST /fault?delay=1500ms   every call waits 1.5 s first
//	DELETE /fault              no more delay
//	GET /fault                 the current delay
//
// It returns the address it listens on.
func serveAdmin(ctx context.Context, addr string, f *fault) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("admin address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("admin address %q: want a loopback address, the endpoint has no authentication", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("admin listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/fault", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			d, err := time.ParseDuration(r.URL.Query().Get("delay"))
			if err != nil || d < 0 {
				http.Error(w, "want ?delay=<Go duration>, e.g. 1500ms", http.StatusBadRequest)
				return
			}
			f.delay.Store(int64(d))
		case http.MethodDelete:
			f.delay.Store(0)
		case http.MethodGet:
		default:
			http.Error(w, "POST, DELETE or GET", http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprintf(w, "delay=%s\n", time.Duration(f.delay.Load()))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("admin endpoint stopped: %v\n", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return lis.Addr().String(), nil
}
