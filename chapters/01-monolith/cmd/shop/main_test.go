package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/acceptance"
	"github.com/gomicrolab/microlab/infra"
)

func init() { gin.SetMode(gin.TestMode) }

// start runs the program on a loopback port and waits until it answers /healthz.
func start(t *testing.T, cfg config) (baseURL string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, ln) }()
	t.Cleanup(cancel)

	baseURL = "http://" + ln.Addr().String()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-errc:
			t.Fatalf("run(ctx, cfg, ln) returned %v before serving, want it to serve until ctx is done", err)
		default:
		}
		resp, err := http.Get(baseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return baseURL, cancel, errc
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/healthz did not answer 200 within 15s (last error: %v)", baseURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAcceptance(t *testing.T) {
	base, cancel, done := start(t, config{DSN: infra.MySQL(t)})
	acceptance.Run(t, base)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "run(ctx, ...) after ctx was cancelled = error, want nil (a graceful shutdown is not a failure)")
	case <-time.After(5 * time.Second):
		t.Fatal("run(ctx, ...) did not return within 5s of ctx being cancelled: shut the server down when ctx is done")
	}
	_, err := http.Get(base + "/healthz")
	require.Error(t, err, "GET /healthz after shutdown succeeded, want the port closed")
}

func TestAcceptanceFailsFastOnBadDSN(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	// Port 1 on loopback refuses connections at once.
	go func() { errc <- run(ctx, config{DSN: "root@tcp(127.0.0.1:1)/shop?timeout=2s"}, ln) }()
	select {
	case err := <-errc:
		require.Error(t, err, "run with an unreachable database = nil, want an error")
		require.False(t, errors.Is(err, context.Canceled), "run with an unreachable database = %v, want the connection error", err)
	case <-time.After(10 * time.Second):
		t.Fatal("run with an unreachable database was still running after 10s, want an error at start (Ping the database)")
	}
}
