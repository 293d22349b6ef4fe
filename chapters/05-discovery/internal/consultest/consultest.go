// Package consultest holds what this chapter's tests share: a Consul client for an address,
// a recording proxy that shows how code talks to Consul, and whoami instances the tests run themselves.
// It has no exercise in it; the learner never edits it.
package consultest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"

	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
)

// Client returns a Consul API client for the HTTP API at addr (host:port). Its idle connections are closed at
// cleanup: Consul refuses a client address with more than 200 open connections (http_max_conns_per_client),
// and with -count=20 the keep-alive connections of every test's clients would add up to that.
func Client(t testing.TB, addr string) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("consul client for %s: %v", addr, err)
	}
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	return c
}

// Request is one HTTP request that reached Consul through a Recorder.
type Request struct {
	Path  string
	Query url.Values
	At    time.Time
}

// Index is the blocking-query index the request asked for, 0 if none.
func (r Request) Index() uint64 {
	n, _ := strconv.ParseUint(r.Query.Get("index"), 10, 64)
	return n
}

// Wait is the blocking-query wait time the request asked for, 0 if none (Consul then waits its own default, 5m).
func (r Request) Wait() time.Duration {
	d, _ := time.ParseDuration(r.Query.Get("wait"))
	return d
}

// Recorder is a reverse proxy in front of Consul that records every request and counts those in flight.
// Point a Consul client at Addr to see whether code polls or uses blocking queries, and whether it
// cancels its long-running queries when it is closed.
type Recorder struct {
	Addr string

	mu       sync.Mutex
	reqs     []Request
	inFlight int
	down     bool
	offset   uint64                               // added to every X-Consul-Index; see SetIndexOffset
	cancels  map[*http.Request]context.CancelFunc // of the requests in flight
}

// SetDown(true) makes Consul fail for the code behind the proxy: the queries in flight (a blocking query may
// be waiting for minutes) end with 502 Bad Gateway, and every new request is answered 503 Service Unavailable
// (and still recorded), as by an agent that lost its cluster, until SetDown(false).
func (r *Recorder) SetDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
	if down {
		for _, cancel := range r.cancels {
			cancel()
		}
	}
}

// SetIndexOffset makes the proxy add n to the X-Consul-Index of every answer, and take it off the index of every
// blocking query that asks for at least n (with the offset in force when the query was recorded). Lowering it makes the index go backwards without an error, as when a
// Consul cluster is rebuilt or restored from a snapshot: a client that waits for an index it saw before then waits
// a whole WaitTime for every change.
func (r *Recorder) SetIndexOffset(n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offset = n
}

func (r *Recorder) indexOffset() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.offset
}

// NewRecorder starts a recording proxy for the Consul HTTP API at consulAddr, stopped at cleanup.
func NewRecorder(t testing.TB, consulAddr string) *Recorder {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: consulAddr}
	rec := &Recorder{cancels: map[*http.Request]context.CancelFunc{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	transport := http.DefaultTransport.(*http.Transport).Clone() // its own pool, closed at cleanup
	proxy.Transport = transport
	proxy.FlushInterval = -1
	proxy.ModifyResponse = func(resp *http.Response) error {
		if off := rec.indexOffset(); off > 0 {
			if n, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64); err == nil {
				resp.Header.Set("X-Consul-Index", strconv.FormatUint(n+off, 10))
			}
		}
		return nil
	}
	// Cancelled long polls are normal here (a closed resolver ends its query); answer them quietly.
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, Request{Path: r.URL.Path, Query: r.URL.Query(), At: time.Now()})
		rec.inFlight++
		down, offset := rec.down, rec.offset // read with the record: a test that saw the request knows its offset
		ctx, cancel := context.WithCancel(r.Context())
		rec.cancels[r] = cancel
		rec.mu.Unlock()
		defer func() {
			rec.mu.Lock()
			rec.inFlight--
			delete(rec.cancels, r)
			rec.mu.Unlock()
			cancel()
		}()
		if down {
			http.Error(w, "No cluster leader (consultest.Recorder is down)", http.StatusServiceUnavailable)
			return
		}
		if offset > 0 {
			q := r.URL.Query()
			if n, err := strconv.ParseUint(q.Get("index"), 10, 64); err == nil && n >= offset {
				q.Set("index", strconv.FormatUint(n-offset, 10))
				r.URL.RawQuery = q.Encode()
			}
		}
		proxy.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	rec.Addr = strings.TrimPrefix(srv.URL, "http://")
	return rec
}

// Requests returns the recorded requests whose path starts with pathPrefix, made at or after since.
func (r *Recorder) Requests(pathPrefix string, since time.Time) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, q := range r.reqs {
		if strings.HasPrefix(q.Path, pathPrefix) && !q.At.Before(since) {
			out = append(out, q)
		}
	}
	return out
}

// WaitBlocking waits until a blocking query (one with an index) on a path starting with pathPrefix has been recorded
// since since, and fails the test after limit.
func (r *Recorder) WaitBlocking(t testing.TB, pathPrefix string, since time.Time, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, q := range r.Requests(pathPrefix, since) {
			if q.Index() != 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no blocking query (index=...) on %s within %v; want a blocking query after the first answer", pathPrefix, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// InFlight is the number of requests that are still waiting for Consul's answer.
func (r *Recorder) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

// Instance is a whoami server that a test runs on loopback.
type Instance struct {
	ID     string
	Addr   *net.TCPAddr
	Server *grpc.Server
}

// StartInstance serves whoami (answering id) on a fresh loopback port until Stop or cleanup.
func StartInstance(t testing.TB, id string) *Instance {
	t.Helper()
	return StartInstanceOn(t, id, "127.0.0.1")
}

// StartInstanceOn is StartInstance on a fresh port of host, e.g. "127.0.0.2" (all of 127.0.0.0/8 is loopback).
func StartInstanceOn(t testing.TB, id, host string) *Instance {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := whoami.NewServer(id)
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("serve %s: %v", id, err)
		}
	}()
	t.Cleanup(srv.Stop)
	return &Instance{ID: id, Addr: lis.Addr().(*net.TCPAddr), Server: srv}
}

// Stop kills the instance abruptly: open connections are closed and nothing is deregistered (like kill -9).
func (i *Instance) Stop() { i.Server.Stop() }

// Register registers the instance in Consul under service with a TTL check that starts passing,
// and deregisters it at cleanup. Tests fail the check with Agent().UpdateTTL(TTLCheckID(id), "", "fail").
func Register(t testing.TB, c *api.Client, service string, i *Instance) {
	t.Helper()
	reg := &api.AgentServiceRegistration{
		ID:      i.ID,
		Name:    service,
		Address: i.Addr.IP.String(),
		Port:    i.Addr.Port,
		Check: &api.AgentServiceCheck{
			CheckID: TTLCheckID(i.ID),
			TTL:     "10m",
			Status:  api.HealthPassing,
		},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("register %s: %v", i.ID, err)
	}
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(i.ID) })
}

// TTLCheckID is the id of the TTL check that Register gives instance id.
func TTLCheckID(id string) string { return "ttl-" + id }

// Registered returns the instances of service that Consul knows, passing or not, keyed by instance id.
func Registered(ctx context.Context, c *api.Client, service string) (map[string]*api.AgentService, error) {
	entries, _, err := c.Health().Service(service, "", false, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*api.AgentService, len(entries))
	for _, e := range entries {
		out[e.Service.ID] = e.Service
	}
	return out, nil
}

// Passing returns the ids of the instances of service whose checks all pass.
func Passing(ctx context.Context, c *api.Client, service string) (map[string]bool, error) {
	entries, _, err := c.Health().Service(service, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(entries))
	for _, e := range entries {
		out[e.Service.ID] = true
	}
	return out, nil
}
