package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
	"github.com/gomicrolab/microlab/chapters/04-gateway/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

func init() { gin.SetMode(gin.TestMode) }

const (
	issuer   = "https://id.shop.test"
	audience = "shop-gateway"
	timeout  = time.Second
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

func signingKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key
}

// token returns a valid bearer token for user with roles.
func token(t *testing.T, user string, roles ...string) string {
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: user, Issuer: issuer, Audience: jwt.ClaimStrings{audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		},
		Roles: roles,
	}).SignedString(signingKey(t))
	require.NoError(t, err)
	return "Bearer " + s
}

// syncBuffer collects log output; slog handlers may be called from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "log line %q is not JSON", sc.Text())
		out = append(out, m)
	}
	return out
}

// find returns the first log record with msg and request_id, or nil.
func find(lines []map[string]any, msg, requestID string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg && l["request_id"] == requestID {
			return l
		}
	}
	return nil
}

// requestLine returns the access log line ("request") of requestID, and fails the test with what it
// found instead when there is none; why says what the missing line means.
func requestLine(t *testing.T, logs *syncBuffer, requestID, why string) map[string]any {
	t.Helper()
	lines := logs.lines(t)
	if l := find(lines, "request", requestID); l != nil {
		return l
	}
	if find(lines, "request", "") != nil {
		t.Fatalf("the request log line for %s has request_id \"\": Log binds the request id before c.Next(), so RequestID must run before Log", requestID)
	}
	t.Fatalf("no \"request\" log line with request_id %s: %s", requestID, why)
	return nil
}

// usersSeen records what the users backend received.
type usersSeen struct {
	mu        sync.Mutex
	userID    string
	requestID string
	path      string
	calls     int
}

// ordersBackend is the gRPC orders service.
type ordersBackend struct{}

func (ordersBackend) GetOrder(ctx context.Context, req *proxy.GetOrderRequest) (*proxy.Order, error) {
	if req.ID == "slow" {
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(5 * time.Second):
			return nil, status.Error(codes.Unavailable, "no deadline arrived")
		}
	}
	return &proxy.Order{ID: req.ID, UserID: "u-42", TotalCents: 1999, Status: "paid"}, nil
}

func (ordersBackend) ListOrders(ctx context.Context, req *proxy.ListOrdersRequest) (*proxy.OrderList, error) {
	return &proxy.OrderList{Orders: []proxy.Order{{ID: "o1", UserID: req.UserID, TotalCents: 1250}}}, nil
}

// testGateway is a gateway with real backends on loopback and in memory, plus its logs and metrics.
type testGateway struct {
	handler http.Handler
	logs    *syncBuffer
	metrics *middleware.Metrics
	users   *usersSeen
}

// newTestGateway builds the gateway with a per-user burst of burst requests; edits change its Config
// before it is built.
func newTestGateway(t *testing.T, burst int, edits ...func(*Config)) *testGateway {
	t.Helper()
	seen := &usersSeen{}
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.userID, seen.requestID, seen.path = r.Header.Get(auth.HeaderUserID), r.Header.Get(middleware.HeaderRequestID), r.URL.Path
		seen.calls++
		seen.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"user_id": r.Header.Get(auth.HeaderUserID), "name": "Ada"})
	}))
	t.Cleanup(users.Close)
	usersURL, _ := url.Parse(users.URL)

	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	proxy.RegisterOrders(srv, ordersBackend{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///orders",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	logs := &syncBuffer{}
	metrics := middleware.NewMetrics(prometheus.NewRegistry())
	cfg := Config{
		Logger:        slog.New(slog.NewJSONHandler(logs, nil)),
		Metrics:       metrics,
		Verifier:      &auth.Verifier{Key: &signingKey(t).PublicKey, Issuer: issuer, Audience: audience},
		IPLimiter:     middleware.NewRateLimiter(rate.Every(time.Hour), 1000),
		Limiter:       middleware.NewRateLimiter(rate.Every(time.Hour), burst),
		Timeout:       timeout,
		SummaryBudget: timeout * 9 / 10,
		UsersURL:      usersURL,
		Orders:        conn,
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	engine := New(cfg)
	// A route whose handler has a bug, to see what the chain does with a panic.
	engine.GET("/api/panic", func(c *gin.Context) { panic("handler bug") })
	// A route that aborts its response the way net/http defines (httputil.ReverseProxy does this when a
	// backend dies mid-body).
	engine.GET("/api/abort", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	return &testGateway{handler: engine, logs: logs, metrics: metrics, users: seen}
}

// do sends one request through the gateway. A panic that escapes the gateway fails the test with a
// message instead of killing the test binary.
func (g *testGateway) do(t *testing.T, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	return g.doFrom(t, "192.0.2.1:1234", method, path, header)
}

// doFrom is do from the client address remoteAddr (host:port), as the TCP peer.
func (g *testGateway) doFrom(t *testing.T, remoteAddr, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background()) // like a real server's request context
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, nil)
	req.RemoteAddr = remoteAddr
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("%s %s: the panic %q escaped the gateway: middleware.Recover must turn it into a 500, and run outside every step that can panic", method, path, p)
			}
		}()
		g.handler.ServeHTTP(rec, req)
	}()
	if rec.Code == http.StatusNotImplemented {
		t.Fatalf("%s %s = 501 %s: a step of the chain or a route is still a TODO of an earlier exercise (04-jwt, 04-authz, 04-routes, 04-aggregate); finish those first", method, path, rec.Body)
	}
	return rec
}

func (g *testGateway) count(method, route string, code int) float64 {
	return testutil.ToFloat64(g.metrics.Requests.WithLabelValues(method, route, strconv.Itoa(code)))
}

func TestChainPanicIsLoggedAndCounted(t *testing.T) {
	g := newTestGateway(t, 100)
	h := http.Header{"Authorization": {token(t, "u-42", "customer")}, middleware.HeaderRequestID: {"req-panic-1"}}

	rec := g.do(t, http.MethodGet, "/api/panic", h)

	require.Equal(t, http.StatusInternalServerError, rec.Code, "GET /api/panic: status = %d, want 500", rec.Code)
	require.Equal(t, "req-panic-1", rec.Header().Get(middleware.HeaderRequestID), "response X-Request-Id after a panic")
	lines := g.logs.lines(t)
	require.NotNil(t, find(lines, "panic", "req-panic-1"), "no \"panic\" log line with request_id req-panic-1: Recover must log the panic with the request id")
	access := requestLine(t, g.logs, "req-panic-1", "the panicking request was not logged; Log must run outside Recover")
	require.EqualValues(t, http.StatusInternalServerError, access["status"], "the request log line says status %v, want 500", access["status"])
	require.EqualValues(t, 1, g.count(http.MethodGet, "/api/panic", 500),
		"gateway_requests_total{route=/api/panic,code=500} = %v, want 1: the panic was not counted; Metrics must run outside Recover", g.count(http.MethodGet, "/api/panic", 500))

	rec = g.do(t, http.MethodGet, "/api/users/7", http.Header{"Authorization": {token(t, "u-42", "customer")}})
	require.Equal(t, http.StatusOK, rec.Code, "the gateway must keep serving after a panic")
}

// TestChainPanicInAuthenticationIsLoggedAndCounted: middleware has bugs too, not only handlers. Here the
// gateway was started with a verifier whose key failed to load (nil), so verifying a token panics inside
// Authenticate. That must be a 500 that is logged and counted like any other, and the gateway keeps serving.
func TestChainPanicInAuthenticationIsLoggedAndCounted(t *testing.T) {
	g := newTestGateway(t, 100, func(cfg *Config) {
		broken := *cfg.Verifier
		broken.Key = nil
		cfg.Verifier = &broken
	})
	h := http.Header{"Authorization": {token(t, "u-42", "customer")}, middleware.HeaderRequestID: {"req-auth-panic"}}

	rec := g.do(t, http.MethodGet, "/api/users/7", h)

	require.Equal(t, http.StatusInternalServerError, rec.Code,
		"GET /api/users/7 with a verifier that panics: status = %d, want 500: Recover must run outside Authenticate", rec.Code)
	require.NotNil(t, find(g.logs.lines(t), "panic", "req-auth-panic"), "no \"panic\" log line with request_id req-auth-panic: Recover must log the panic with the request id")
	access := requestLine(t, g.logs, "req-auth-panic", "the request that panicked in authentication was not logged; Log must run outside Recover")
	require.EqualValues(t, http.StatusInternalServerError, access["status"], "the request log line says status %v, want 500", access["status"])
	require.EqualValues(t, 1, g.count(http.MethodGet, "/api/users/*rest", 500),
		"gateway_requests_total{route=/api/users/*rest,code=500} = %v, want 1: Metrics must run outside Recover", g.count(http.MethodGet, "/api/users/*rest", 500))

	g.users.mu.Lock()
	calls := g.users.calls
	g.users.mu.Unlock()
	require.Zero(t, calls, "the users backend was called %d times after authentication panicked: the request has no verified caller, so the chain must stop there (Recover aborts, it does not only answer)", calls)

	rec = g.do(t, http.MethodGet, "/api/users/7", http.Header{})
	require.Equal(t, http.StatusUnauthorized, rec.Code, "the gateway must keep serving after a panic in authentication: GET without a token = %d, want 401", rec.Code)
}

// TestChainKeepsErrAbortHandler: panic(http.ErrAbortHandler) is net/http's way to abort a response
// (the server closes the connection without logging a stack). ReverseProxy uses it when a backend dies
// mid-body: the client must see a broken response, not a complete 500 or a truncated 200 that looks whole.
func TestChainKeepsErrAbortHandler(t *testing.T) {
	g := newTestGateway(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/abort", nil)
	req.Header.Set("Authorization", token(t, "u-42", "customer"))

	var escaped any
	rec := httptest.NewRecorder()
	func() {
		defer func() { escaped = recover() }()
		g.handler.ServeHTTP(rec, req)
	}()

	if escaped == nil && rec.Code == http.StatusNotImplemented {
		t.Fatalf("GET /api/abort = 501 %s: a step of the chain is still a TODO of an earlier exercise; finish those first", rec.Body)
	}
	require.Equal(t, http.ErrAbortHandler, escaped,
		"GET /api/abort (the handler panics with http.ErrAbortHandler): the panic reaching net/http = %v, want http.ErrAbortHandler: Recover must re-panic it so the server aborts the response", escaped)
}

// TestChainRateLimitsUnauthenticatedFloods: requests without a valid token stop at 401 before the per-user
// limiter, so only a limit by client IP in front of authentication bounds a flood of garbage tokens
// (each one costs an RSA verification). The client IP is the TCP peer: X-Forwarded-For is the client's
// to forge.
func TestChainRateLimitsUnauthenticatedFloods(t *testing.T) {
	const ipBurst = 3
	g := newTestGateway(t, 100, func(cfg *Config) { cfg.IPLimiter = middleware.NewRateLimiter(rate.Every(time.Hour), ipBurst) })
	const attacker, neighbour = "198.51.100.7:40000", "198.51.100.8:40000"
	forged := http.Header{"Authorization": {"Bearer not-a-token"}}

	for i := range ipBurst {
		h := forged.Clone()
		h.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1))
		rec := g.doFrom(t, attacker, http.MethodGet, "/api/users/7", h)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "forged token %d of a per-IP burst of %d: status = %d, want 401", i+1, ipBurst, rec.Code)
	}
	h := forged.Clone()
	h.Set("X-Forwarded-For", "203.0.113.99")
	h.Set(middleware.HeaderRequestID, "req-flood")
	rec := g.doFrom(t, attacker, http.MethodGet, "/api/users/7", h)
	require.Equal(t, http.StatusTooManyRequests, rec.Code,
		"forged token %d from one client IP (burst %d): status = %d, want 429: limit by client IP before authentication (IPLimiter), or unauthenticated floods are never limited; and key it by the TCP peer, not X-Forwarded-For", ipBurst+1, ipBurst, rec.Code)
	requestLine(t, g.logs, "req-flood", "the 429 was not logged; the IP limiter must run inside Log")
	require.EqualValues(t, 1, g.count(http.MethodGet, "/api/users/*rest", 429), "the 429 was not counted: the IP limiter must run inside Metrics")

	rec = g.doFrom(t, neighbour, http.MethodGet, "/api/users/7", forged)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "a forged token from another client IP: status = %d, want 401: the per-IP buckets must be per IP", rec.Code)
}

func TestChainUnauthenticatedIsLoggedAndCounted(t *testing.T) {
	g := newTestGateway(t, 100)

	rec := g.do(t, http.MethodGet, "/api/users/7", http.Header{middleware.HeaderRequestID: {"req-anon-1"}})

	require.Equal(t, http.StatusUnauthorized, rec.Code, "GET without a token: status = %d, want 401", rec.Code)
	access := requestLine(t, g.logs, "req-anon-1", "a 401 was not logged; authentication must run inside Log")
	require.EqualValues(t, http.StatusUnauthorized, access["status"])
	require.EqualValues(t, 1, g.count(http.MethodGet, "/api/users/*rest", 401), "a 401 was not counted: authentication must run inside Metrics")
}

func TestChainRateLimitIsPerUser(t *testing.T) {
	g := newTestGateway(t, 2)
	alice := http.Header{"Authorization": {token(t, "u-alice", "customer")}}
	bob := http.Header{"Authorization": {token(t, "u-bob", "customer")}}

	for i := range 2 {
		rec := g.do(t, http.MethodGet, "/api/users/7", alice)
		require.Equal(t, http.StatusOK, rec.Code, "alice's request %d of a burst of 2: status = %d, want 200", i+1, rec.Code)
	}
	rec := g.do(t, http.MethodGet, "/api/users/7", http.Header{"Authorization": alice["Authorization"], middleware.HeaderRequestID: {"req-limited"}})
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "alice's third request: status = %d, want 429", rec.Code)
	require.NotEmpty(t, rec.Header().Get("Retry-After"), "a 429 must say when to retry")

	rec = g.do(t, http.MethodGet, "/api/users/7", bob)
	require.Equal(t, http.StatusOK, rec.Code,
		"bob's first request after alice was limited (same client IP): status = %d, want 200: buckets must be per user, so the per-user Limiter must run after authentication", rec.Code)

	requestLine(t, g.logs, "req-limited", "the 429 was not logged; rate limiting must run inside Log")
	require.EqualValues(t, 1, g.count(http.MethodGet, "/api/users/*rest", 429), "the 429 was not counted")
}

func TestChainTimeoutReachesBackends(t *testing.T) {
	g := newTestGateway(t, 100)
	start := time.Now()

	rec := g.do(t, http.MethodGet, "/api/orders/slow", http.Header{"Authorization": {token(t, "u-42", "customer")}})

	require.Equal(t, http.StatusGatewayTimeout, rec.Code, "GET /api/orders/slow: status = %d, want 504 after the %v timeout", rec.Code, timeout)
	require.Less(t, time.Since(start), timeout+2*time.Second, "the slow backend call was not cut off at the gateway's timeout")
}

// slowLoggerSetup is a log handler that takes delay to prepare a request's logger (Log calls With before
// the request moves on): it stands for any work the gateway does before it calls a backend.
type slowLoggerSetup struct {
	slog.Handler
	delay time.Duration
}

func (h slowLoggerSetup) WithAttrs(attrs []slog.Attr) slog.Handler {
	time.Sleep(h.delay)
	return h.Handler.WithAttrs(attrs)
}

// TestChainTimeoutCoversBackendTimeOnly: the per-request timeout is the backends' budget. Time the gateway
// spends on its own work before the backend call must not be charged to it.
func TestChainTimeoutCoversBackendTimeOnly(t *testing.T) {
	before := timeout + 200*time.Millisecond
	g := newTestGateway(t, 100, func(cfg *Config) {
		cfg.Logger = slog.New(slowLoggerSetup{Handler: cfg.Logger.Handler(), delay: before})
	})

	rec := g.do(t, http.MethodGet, "/api/orders/9", http.Header{"Authorization": {token(t, "u-42", "customer")}})

	require.Equal(t, http.StatusOK, rec.Code,
		"GET /api/orders/9 after %v of gateway work before the backend call: status = %d, want 200: the %v timeout must start just before the backends, not at the front of the chain (body %s)",
		before, rec.Code, timeout, rec.Body)
}

func TestChainEndToEnd(t *testing.T) {
	g := newTestGateway(t, 100)
	customer := token(t, "u-42", "customer")
	admin := token(t, "u-root", "admin")

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		want   int
	}{
		{name: "no token", method: http.MethodGet, path: "/api/users/7", header: http.Header{}, want: http.StatusUnauthorized},
		{name: "HTTP backend", method: http.MethodGet, path: "/api/users/7", header: http.Header{"Authorization": {customer}}, want: http.StatusOK},
		{name: "gRPC backend", method: http.MethodGet, path: "/api/orders/9", header: http.Header{"Authorization": {customer}}, want: http.StatusOK},
		{name: "aggregate of both", method: http.MethodGet, path: "/api/me/summary", header: http.Header{"Authorization": {customer}}, want: http.StatusOK},
		{name: "customer on admin route", method: http.MethodDelete, path: "/api/admin/users/7", header: http.Header{"Authorization": {customer}}, want: http.StatusForbidden},
		{name: "admin on admin route", method: http.MethodDelete, path: "/api/admin/users/7", header: http.Header{"Authorization": {admin}}, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := g.do(t, tt.method, tt.path, tt.header)
			require.Equal(t, tt.want, rec.Code, "%s %s (%s): status = %d, want %d (body %s)", tt.method, tt.path, tt.name, rec.Code, tt.want, rec.Body)
			require.NotEmpty(t, rec.Header().Get(middleware.HeaderRequestID), "every response carries X-Request-Id")
		})
	}

	rec := g.do(t, http.MethodGet, "/api/me/summary", http.Header{"Authorization": {customer}})
	var summary struct {
		Profile struct {
			UserID string `json:"user_id"`
		} `json:"profile"`
		Orders  []struct{ ID string } `json:"orders"`
		Partial bool                  `json:"partial"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &summary), "summary body %q", rec.Body)
	require.Equal(t, "u-42", summary.Profile.UserID, "summary profile comes from the users service over HTTP")
	require.Len(t, summary.Orders, 1, "summary orders come from the orders service over gRPC")
	require.False(t, summary.Partial)

	// A spoofed identity header never reaches a backend: the gateway's own value wins.
	g.do(t, http.MethodGet, "/api/users/7", http.Header{"Authorization": {customer}, auth.HeaderUserID: {"u-root"}, middleware.HeaderRequestID: {"req-e2e"}})
	g.users.mu.Lock()
	defer g.users.mu.Unlock()
	require.Equal(t, "u-42", g.users.userID, "users backend saw %s = %q, want u-42", auth.HeaderUserID, g.users.userID)
	require.Equal(t, "req-e2e", g.users.requestID, "users backend saw X-Request-Id = %q, want the client's req-e2e", g.users.requestID)
	require.Equal(t, "/users/7", g.users.path)
}

// TestChainCustomerCannotWalkIntoAdmin: the route, and the role check, are chosen on the path the client
// sent. /api/users/../admin/stats matches the users route (any caller), and a backend that normalises the
// path serves /admin/stats. The gateway must refuse such paths, encoded or not, before they reach a backend.
func TestChainCustomerCannotWalkIntoAdmin(t *testing.T) {
	g := newTestGateway(t, 100)
	customer := http.Header{"Authorization": {token(t, "u-42", "customer")}}
	for _, path := range []string{
		"/api/users/%2e%2e/admin/stats",
		"/api/users/../admin/stats", // curl --path-as-is
		"/api/users/%2E%2E%2Fadmin%2Fstats",
	} {
		rec := g.do(t, http.MethodGet, path, customer)
		g.users.mu.Lock()
		calls, seen := g.users.calls, g.users.path
		g.users.mu.Unlock()
		require.Zero(t, calls, "GET %s with a customer token reached the users backend as %q: refuse dot segments before forwarding", path, seen)
		require.Equal(t, http.StatusBadRequest, rec.Code, "GET %s with a customer token: status = %d, want 400", path, rec.Code)
	}
	rec := g.do(t, http.MethodGet, "/api/admin/stats", customer)
	require.Equal(t, http.StatusForbidden, rec.Code, "GET /api/admin/stats with a customer token: status = %d, want 403", rec.Code)
}
