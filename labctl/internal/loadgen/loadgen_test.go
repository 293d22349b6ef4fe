package loadgen

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server counts what reaches it and how many requests it serves at once.
type server struct {
	*httptest.Server
	hits, inFlight, maxInFlight atomic.Int64
}

func newServer(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		cur := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.maxInFlight.Load(); cur > m && !s.maxInFlight.CompareAndSwap(m, cur); m = s.maxInFlight.Load() {
		}
		h(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAttackStopsAtTheRequestBound(t *testing.T) {
	s := newServer(t, func(int64, http.ResponseWriter, *http.Request) { time.Sleep(time.Millisecond) })
	res, err := Attack(context.Background(), Static("ok", http.MethodGet, s.URL), Bounds{Requests: 200, Duration: time.Minute, Clients: 4})
	if err != nil {
		t.Fatalf("Attack = %v, want no error", err)
	}
	if got := s.hits.Load(); got != 200 {
		t.Errorf("the server saw %d requests, want exactly 200: the request bound caps the load", got)
	}
	if res.Requests != 200 || res.Errors != 0 {
		t.Errorf("Result = %d requests, %d errors, want 200 and 0", res.Requests, res.Errors)
	}
	if got := s.maxInFlight.Load(); got > 4 {
		t.Errorf("the server had %d requests in flight, want at most 4 (Clients): a closed loop never has more", got)
	}
	if !(res.P50 > 0 && res.P50 <= res.P99 && res.P99 <= res.Max) {
		t.Errorf("latencies p50 %v, p99 %v, max %v, want 0 < p50 <= p99 <= max", res.P50, res.P99, res.Max)
	}
	if want := float64(res.Requests) / res.Elapsed.Seconds(); res.Throughput <= 0 || res.Throughput > want*1.0001 {
		t.Errorf("Throughput = %.1f req/s, want (0, %.1f]: successful requests over the elapsed time", res.Throughput, want)
	}
}

func TestAttackStopsAtTheTimeBound(t *testing.T) {
	s := newServer(t, func(int64, http.ResponseWriter, *http.Request) { time.Sleep(20 * time.Millisecond) })
	start := time.Now()
	res, err := Attack(context.Background(), Static("slow", http.MethodGet, s.URL), Bounds{Requests: 1 << 30, Duration: 300 * time.Millisecond, Clients: 2})
	if err != nil {
		t.Fatalf("Attack = %v, want no error", err)
	}
	// 300 ms plus the answers in flight; 5 s is far above any scheduling delay and far below "never stopped".
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Attack took %v with Duration 300ms, want it to stop at the time bound", took)
	}
	if res.Requests == 0 || int64(res.Requests) != s.hits.Load() {
		t.Errorf("Result.Requests = %d, server saw %d, want the same, more than 0", res.Requests, s.hits.Load())
	}
}

func TestAttackCountsFailures(t *testing.T) {
	s := newServer(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
		if n%4 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	res, err := Attack(context.Background(), Static("mixed", http.MethodPost, s.URL), Bounds{Requests: 100, Duration: time.Minute, Clients: 1})
	if err != nil {
		t.Fatalf("Attack = %v, want no error", err)
	}
	if res.Errors != 25 {
		t.Errorf("Errors = %d, want 25 (every fourth answer is a 500)", res.Errors)
	}
	if !strings.Contains(res.FirstError, "500") {
		t.Errorf("FirstError = %q, want the status of a failed answer", res.FirstError)
	}
	if want := float64(75) / res.Elapsed.Seconds(); res.Throughput > want*1.0001 {
		t.Errorf("Throughput = %.1f, want at most %.1f: failed answers are not throughput", res.Throughput, want)
	}
}

func TestAttackSendsWhatNextMakes(t *testing.T) {
	var bodies atomic.Int64
	s := newServer(t, func(_ int64, _ http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") != "" && r.URL.Path == "/orders" {
			bodies.Add(1)
		}
	})
	target := Target{Name: "keys", Next: func(i int) (Request, error) {
		return Request{Method: http.MethodPost, URL: s.URL + "/orders", Body: []byte(`{}`),
			Header: http.Header{"Idempotency-Key": {string(rune('a' + i))}}}, nil
	}}
	if _, err := Attack(context.Background(), target, Bounds{Requests: 10, Duration: time.Minute, Clients: 2}); err != nil {
		t.Fatalf("Attack = %v, want no error", err)
	}
	if got := bodies.Load(); got != 10 {
		t.Errorf("%d requests carried Next's path and header, want 10", got)
	}
}

func TestAttackReturnsNextsError(t *testing.T) {
	s := newServer(t, func(int64, http.ResponseWriter, *http.Request) {})
	errSetup := errors.New("no order to pay")
	target := Target{Name: "pay", Next: func(i int) (Request, error) {
		if i >= 3 {
			return Request{}, errSetup
		}
		return Request{Method: http.MethodGet, URL: s.URL}, nil
	}}
	_, err := Attack(context.Background(), target, Bounds{Requests: 10, Duration: time.Minute, Clients: 1})
	if !errors.Is(err, errSetup) {
		t.Errorf("Attack = %v, want Next's error: a load test that could not make its requests has no figures", err)
	}
}

func TestAttackStopsWithItsContext(t *testing.T) {
	s := newServer(t, func(int64, http.ResponseWriter, *http.Request) { time.Sleep(20 * time.Millisecond) })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Attack(ctx, Static("cancelled", http.MethodGet, s.URL), Bounds{Requests: 1 << 30, Duration: time.Hour, Clients: 2}); err != nil {
		t.Fatalf("Attack = %v, want the requests it made before ctx ended", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Attack took %v after its ctx ended at 200ms, want it to stop", took)
	}
}

func TestAttackRefusesUnboundedLoad(t *testing.T) {
	for name, b := range map[string]Bounds{
		"no request bound": {Duration: time.Second, Clients: 1},
		"no time bound":    {Requests: 1, Clients: 1},
		"no clients":       {Requests: 1, Duration: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Attack(context.Background(), Static("x", http.MethodGet, "http://127.0.0.1:1"), b); err == nil {
				t.Errorf("Attack(%+v) = nil error, want a refusal: every load test here is bounded", b)
			}
		})
	}
}

func TestReadMemory(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatalf("ReadMemory(self) = %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ReadMemory(self) = %+v, want 0 < RSS <= Peak", m)
	}
	if _, err := ReadMemory(1 << 30); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadMemory(no such process) = %v, want fs.ErrNotExist", err)
	}
}

func TestTable(t *testing.T) {
	rs := []Result{
		{Name: "bare gin", Requests: 100, Throughput: 1000, P50: time.Millisecond, P99: 2 * time.Millisecond, Max: 3 * time.Millisecond},
		{Name: "checkout", Requests: 100, Errors: 1, Throughput: 250, P50: 4 * time.Millisecond, P99: 9 * time.Millisecond, Max: 10 * time.Millisecond},
	}
	got := Table(rs, "bare gin")
	for _, want := range []string{"| checkout | 100 | 1 | 250 | 4.00 ms | 9.00 ms | 10.00 ms | 0.250 | 4.0 |", "req/s vs baseline"} {
		if !strings.Contains(got, want) {
			t.Errorf("Table =\n%s\nwant a line with %q: each row says its ratio to the baseline", got, want)
		}
	}
	mem := MemoryTable([]string{"gateway"}, map[string]Memory{"gateway": {RSS: 20 << 20, Peak: 30 << 20}})
	if !strings.Contains(mem, "| gateway | 20.0 MiB | 30.0 MiB |") {
		t.Errorf("MemoryTable =\n%s\nwant gateway's RSS and peak in MiB", mem)
	}
}
