package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/acceptance"
	"github.com/gomicrolab/microlab/chapters/01-monolith/internal/locktest"
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

// waitReturn waits for run to return after its ctx was cancelled.
func waitReturn(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err, "run(ctx, ...) after ctx was cancelled = error, want nil (a graceful shutdown is not a failure)")
	case <-time.After(15 * time.Second):
		t.Fatal("run(ctx, ...) did not return within 15s of ctx being cancelled: shut the server down when ctx is done")
	}
}

func TestAcceptance(t *testing.T) {
	base, cancel, done := start(t, config{DSN: infra.MySQL(t)})
	// A client that sends half its headers and then nothing (Slowloris): it must not hold its connection
	// for ever. It waits while the suite runs, so it costs no time of its own.
	slow, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer slow.Close()
	opened := time.Now()
	_, err = slow.Write([]byte("GET /healthz HTTP/1.1\r\nHost: shop\r\n"))
	require.NoError(t, err)

	acceptance.Run(t, base)

	require.NoError(t, slow.SetReadDeadline(opened.Add(30*time.Second)))
	_, err = io.ReadAll(slow) // nil once the server closes the connection
	var netErr net.Error
	require.False(t, errors.As(err, &netErr) && netErr.Timeout(),
		"a connection that never finished its headers was still open 30s later, want it closed: set the server's ReadHeaderTimeout (a few seconds), or any client can hold connections for ever")

	cancel()
	waitReturn(t, done)
	_, err = http.Get(base + "/healthz")
	require.Error(t, err, "GET /healthz after shutdown succeeded, want the port closed")
}

// TestAcceptanceGracefulShutdown cancels run while an order is in flight: the test holds the product's row
// so that the order is inside the database when the shutdown begins.
func TestAcceptanceGracefulShutdown(t *testing.T) {
	dsn := infra.MySQL(t)
	base, cancel, done := start(t, config{DSN: dsn})
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	userID := postID(t, c, base+"/users", `{"name":"ada","email":"ada@example.com"}`)
	productID := postID(t, c, base+"/products", `{"name":"pen","price_cents":250,"stock":5}`)

	locker, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	defer locker.Close()
	release := locktest.Hold(t, locker, "products", productID)

	type answer struct {
		status int
		err    error
	}
	inFlight := make(chan answer, 1)
	var finished sync.WaitGroup
	finished.Add(1)
	go func() {
		defer finished.Done()
		resp, err := c.Post(base+"/orders", "application/json",
			strings.NewReader(fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":%d,"quantity":1}]}`, userID, productID)))
		if err != nil {
			inFlight <- answer{err: err}
			return
		}
		resp.Body.Close()
		inFlight <- answer{status: resp.StatusCode}
	}()
	require.Equal(t, 1, locktest.WaitForWaiters(t, locker, 1, func() int { return 0 }),
		"POST /orders did not reach the database while its product was locked")

	// A second request whose body is still arriving when the shutdown begins: its handler needs the
	// database only after that. "100 Continue" comes back once the handler reads the body, so the
	// request is in flight for certain; the body follows once the server stopped accepting.
	late, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer late.Close()
	require.NoError(t, late.SetDeadline(time.Now().Add(30*time.Second)))
	lateBody := fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":%d,"quantity":1}]}`, userID, productID)
	_, err = fmt.Fprintf(late, "POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", len(lateBody))
	require.NoError(t, err)
	lateReader := bufio.NewReader(late)
	cont, err := http.ReadResponse(lateReader, nil)
	require.NoError(t, err, "POST /orders with Expect: 100-continue: no answer")
	require.Equal(t, http.StatusContinue, cont.StatusCode, "POST /orders with Expect: 100-continue: status, want 100 once the handler reads the body")

	cancel()
	// The shutdown has begun when the port stops taking new connections.
	require.Eventually(t, func() bool {
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "the server still accepts new requests 10s after ctx was cancelled: call srv.Shutdown when ctx is done")
	_, err = late.Write([]byte(lateBody))
	require.NoError(t, err)
	release()

	finished.Wait()
	a := <-inFlight
	require.NoError(t, a.err, "POST /orders in flight during the shutdown: the request was cut off; srv.Shutdown (not Close) lets it finish")
	require.Equal(t, http.StatusCreated, a.status, "POST /orders in flight during the shutdown: status, want 201: requests in flight finish before the database closes")
	lateResp, err := http.ReadResponse(lateReader, nil)
	require.NoError(t, err, "POST /orders whose body arrived during the shutdown: no answer; Shutdown lets requests in flight finish")
	lateResp.Body.Close()
	require.Equal(t, http.StatusCreated, lateResp.StatusCode,
		"POST /orders whose body arrived during the shutdown: status, want 201: its handler reaches the database after ctx was cancelled, so close the database only after srv.Shutdown returned")
	waitReturn(t, done)

	locker.Close()
	probe, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	defer probe.Close()
	probe.SetMaxOpenConns(1)
	// A closed connection leaves the server's process list a moment after the client hangs up.
	var open int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := probe.QueryRow(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()`).Scan(&open)
		require.NoError(t, err)
		if open == 0 || time.Now().After(deadline) {
			break
		}
	}
	require.Zero(t, open, "run returned with %d connections to its database still open 5s later, want 0: close the database (db.Close) before run returns", open)
}

// postID posts a JSON body and returns the id of what it created.
func postID(t *testing.T, c *http.Client, url, body string) int64 {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "POST %s %s: status", url, body)
	var created struct {
		ID int64 `json:"id"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	return created.ID
}

func TestAcceptanceFailsFastOnBadDSN(t *testing.T) {
	// silent accepts connections and never says a word: a database host that hangs, or the wrong port of
	// a firewall that swallows packets. Only a time limit on the first connection notices.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	tests := []struct {
		name string
		dsn  string
	}{
		// Port 1 on loopback refuses connections at once.
		{"connection refused", "root@tcp(127.0.0.1:1)/shop?timeout=2s"},
		{"server never answers", "root@tcp(" + silent.Addr().String() + ")/shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- run(ctx, config{DSN: tt.dsn}, ln) }()
			select {
			case err := <-errc:
				require.Error(t, err, "run with a database whose %s = nil, want an error", tt.name)
				require.False(t, errors.Is(err, context.Canceled), "run with a database whose %s = %v, want the connection error", tt.name, err)
			case <-time.After(20 * time.Second):
				t.Fatalf("run with a database whose %s was still running after 20s, want an error at start: Ping the database with a time limit (context.WithTimeout) before serving", tt.name)
			}
		})
	}
}
