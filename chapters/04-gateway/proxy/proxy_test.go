package proxy

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

func init() { gin.SetMode(gin.TestMode) }

// asUser stands in for the auth middleware: it records a verified identity, as Authenticate would.
func asUser(id string) gin.HandlerFunc {
	return func(c *gin.Context) {
		auth.SetIdentity(c, auth.Identity{UserID: id, Roles: []string{"customer"}})
	}
}

// withDeadline stands in for the Timeout middleware.
func withDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// seenRequest is what the HTTP backend received.
type seenRequest struct {
	Path      string
	UserID    []string
	Roles     string
	RequestID string
	XFF       string
}

func TestRouteHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen seenRequest
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = seenRequest{Path: r.URL.Path, UserID: r.Header.Values(auth.HeaderUserID), Roles: r.Header.Get(auth.HeaderUserRoles),
			RequestID: r.Header.Get("X-Request-Id"), XFF: r.Header.Get("X-Forwarded-For")}
		mu.Unlock()
		switch r.URL.Path {
		case "/users/404":
			http.Error(w, `{"error":"no such user"}`, http.StatusNotFound)
		case "/users/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"7"}`))
		}
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)

	r := gin.New()
	r.Use(asUser("u-42"), withDeadline(500*time.Millisecond))
	r.Any("/api/users/*rest", HTTP(target, "/api"))

	tests := []struct {
		name     string
		path     string
		header   http.Header
		want     int
		wantPath string
	}{
		{name: "forwards with the prefix cut", path: "/api/users/7", want: http.StatusOK, wantPath: "/users/7"},
		{name: "passes the backend's 404 through", path: "/api/users/404", want: http.StatusNotFound, wantPath: "/users/404"},
		{name: "Connection header naming the identity header", path: "/api/users/7",
			header: http.Header{"Connection": {auth.HeaderUserID}}, want: http.StatusOK, wantPath: "/users/7"},
		{name: "Connection header naming the roles and request id headers", path: "/api/users/7",
			header: http.Header{"Connection": {auth.HeaderUserRoles + ", X-Request-Id"}, "X-Request-Id": {"req-7"}}, want: http.StatusOK, wantPath: "/users/7"},
		{name: "client-sent X-Forwarded-For is replaced", path: "/api/users/7",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}, want: http.StatusOK, wantPath: "/users/7"},
		{name: "slow backend past the deadline", path: "/api/users/slow", want: http.StatusGatewayTimeout, wantPath: "/users/slow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			require.Equal(t, tt.want, rec.Code, "GET %s (%s): status = %d, want %d (body %s)", tt.path, tt.name, rec.Code, tt.want, rec.Body)
			mu.Lock()
			got := seen
			mu.Unlock()
			require.Equal(t, tt.wantPath, got.Path, "backend path = %q, want %q", got.Path, tt.wantPath)
			require.Equal(t, []string{"u-42"}, got.UserID,
				"backend saw %s = %v, want [u-42]: the gateway's identity header must reach the backend whatever the client sends", auth.HeaderUserID, got.UserID)
			require.Equal(t, "customer", got.Roles,
				"backend saw %s = %q, want \"customer\": every header the gateway sets (identity, roles, request id) must survive a client's Connection header", auth.HeaderUserRoles, got.Roles)
			require.Equal(t, tt.header.Get("X-Request-Id"), got.RequestID,
				"backend saw X-Request-Id = %q, want %q: the request id must reach the backend whatever the client's Connection header names", got.RequestID, tt.header.Get("X-Request-Id"))
			require.Equal(t, "192.0.2.1", got.XFF, "backend saw X-Forwarded-For = %q, want only the gateway's view of the client (192.0.2.1)", got.XFF)
		})
	}
}

func TestRouteHTTPBackendDown(t *testing.T) {
	backend := httptest.NewServer(http.NotFoundHandler())
	target, _ := url.Parse(backend.URL)
	backend.Close() // nothing listens there any more

	r := gin.New()
	r.GET("/api/users/*rest", HTTP(target, "/api"))
	// A real server's request context can always be cancelled; httptest.NewRequest's cannot, and
	// ReverseProxy then falls back to the deprecated CloseNotifier, which gin's test writer lacks.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/users/7", nil))

	require.Equal(t, http.StatusBadGateway, rec.Code, "GET with the backend down: status = %d, want 502", rec.Code)
	// The dial error names the backend's address ("dial tcp 127.0.0.1:41234: connect: connection refused"):
	// that is a map of the inside for an attacker. The reason goes to the gateway's log, not to the client.
	for _, secret := range []string{target.Host, target.Port(), "dial", "refused"} {
		require.NotContains(t, rec.Body.String(), secret,
			"GET with the backend down: body %q contains %q: an error body must not carry the backend's address or error text", rec.Body, secret)
	}
}

// TestRoutePathAndQueryReachBackendAsSent: the gateway cuts its prefix and changes nothing else. A query
// string that is dropped, or an encoded slash that is decoded on the way, is a different request.
func TestRoutePathAndQueryReachBackendAsSent(t *testing.T) {
	got := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	r := gin.New()
	r.Any("/api/users/*rest", HTTP(target, "/api"))

	tests := []struct{ name, sent, want string }{
		{name: "query string", sent: "/api/users/7?expand=orders&limit=10", want: "/users/7?expand=orders&limit=10"},
		{name: "repeated and encoded query values", sent: "/api/users/search?q=go%20lang&tag=a&tag=b%26c", want: "/users/search?q=go%20lang&tag=a&tag=b%26c"},
		{name: "encoded slash in a path segment", sent: "/api/users/by-email/ada%2Fdev@example.com", want: "/users/by-email/ada%2Fdev@example.com"},
		{name: "encoded slash and a query", sent: "/api/users/a%2Fb?x=1", want: "/users/a%2Fb?x=1"},
		// Only "." and ".." segments are refused: dots inside a name, and a trailing slash, are the backend's business.
		{name: "dots inside a segment", sent: "/api/users/7/files/report..v2.pdf", want: "/users/7/files/report..v2.pdf"},
		{name: "segment that starts with a dot", sent: "/api/users/7/.profile", want: "/users/7/.profile"},
		{name: "trailing slash", sent: "/api/users/7/", want: "/users/7/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, tt.sent, nil))
			require.Equal(t, http.StatusNoContent, rec.Code, "GET %s: status = %d, want the backend's 204 (body %s)", tt.sent, rec.Code, rec.Body)
			select {
			case uri := <-got:
				require.Equal(t, tt.want, uri, "GET %s reached the backend as %q, want %q: cut the prefix, keep the rest of the path (RawPath) and the query string as sent", tt.sent, uri, tt.want)
			default:
				t.Fatalf("GET %s never reached the backend", tt.sent)
			}
		})
	}
}

// TestRouteRefusesDotSegments: the route, and the role check on it, were chosen on the path the client
// sent. A backend that normalises paths (most frameworks, nginx) serves /admin/stats for
// /users/../admin/stats: a customer would reach an admin endpoint through the users route.
func TestRouteRefusesDotSegments(t *testing.T) {
	var mu sync.Mutex
	var reached []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.RequestURI)
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	r := gin.New()
	r.Use(asUser("u-42"))
	r.Any("/api/users/*rest", HTTP(target, "/api"))

	for _, path := range []string{
		"/api/users/%2e%2e/admin/stats",     // percent-encoded dots
		"/api/users/../admin/stats",         // raw dots (curl --path-as-is)
		"/api/users/7/../../admin/stats",    // two levels up
		"/api/users/.%2E/admin/stats",       // mixed
		"/api/users/..%2fadmin/stats",       // encoded slash after the dots
		"/api/users/%2E%2E%2Fadmin%2Fstats", // everything encoded
		"/api/users/./7",                    // a single dot is a dot segment too
		"/api/users/..;/admin/stats",        // a path parameter after the dots: Tomcat and Spring read "..;/" as "../"
		"/api/users/..%3Bx=1/admin/stats",   // the same, encoded
		"/api/users/..%5Cadmin%5Cstats",     // encoded backslashes: IIS and Windows servers read "..\" as "../"
	} {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))

			mu.Lock()
			got := reached
			reached = nil
			mu.Unlock()
			require.Empty(t, got, "GET %s reached the backend as %q: a path with dot segments is authorised as one route and served as another; refuse it", path, got)
			require.Equal(t, http.StatusBadRequest, rec.Code, "GET %s: status = %d, want 400: refuse paths with . or .. segments (decoded) before forwarding", path, rec.Code)
		})
	}
}

// TestRouteReusesConnections: a gateway sends many concurrent requests to few backends. Each request
// must not cost a TCP handshake: one shared transport, and an idle pool per host sized for that
// concurrency. (http.DefaultTransport keeps 2 idle connections per host; after a burst of 32 it
// closes 30 and the next burst dials them again.)
func TestRouteReusesConnections(t *testing.T) {
	const concurrency, rounds = 32, 3
	var newConns atomic.Int64
	var (
		mu      sync.Mutex
		waiting int
		gate    = make(chan struct{})
	)
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A barrier: every request of a round is in flight at once, so the round needs `concurrency`
		// connections whatever the scheduling, and the next round finds them all idle.
		mu.Lock()
		waiting++
		g := gate
		if waiting == concurrency {
			close(gate)
			gate, waiting = make(chan struct{}), 0
		}
		mu.Unlock()
		select {
		case <-g:
		case <-time.After(5 * time.Second): // only if the proxy cannot open `concurrency` connections at once
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	backend.Start()
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	r := gin.New()
	r.Any("/api/users/*rest", HTTP(target, "/api"))

	var perRound []int64
	for round := range rounds {
		before := newConns.Load()
		var wg sync.WaitGroup
		codes := make([]int, concurrency)
		for i := range concurrency {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/users/7", nil))
				codes[i] = rec.Code
			})
		}
		wg.Wait()
		for i, code := range codes {
			require.Equal(t, http.StatusOK, code, "round %d, request %d: status = %d, want 200", round+1, i+1, code)
		}
		perRound = append(perRound, newConns.Load()-before)
	}
	later := perRound[1] + perRound[2]
	require.LessOrEqual(t, later, int64(concurrency/4),
		"new backend connections per round of %d concurrent requests = %v, want (about) %d in the first round and none after: build one transport, share it across requests, and size MaxIdleConnsPerHost for the gateway's concurrency (http.DefaultTransport keeps only 2 idle connections per host)",
		concurrency, perRound, concurrency)
}

// fakeOrders is the gRPC orders backend.
type fakeOrders struct {
	mu          sync.Mutex
	userID      []string
	hadDeadline bool
	deadlineIn  time.Duration
}

func (f *fakeOrders) GetOrder(ctx context.Context, req *GetOrderRequest) (*Order, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	dl, ok := ctx.Deadline()
	f.mu.Lock()
	f.userID = md.Get(MetadataUserID)
	f.hadDeadline, f.deadlineIn = ok, time.Until(dl)
	f.mu.Unlock()
	switch req.ID {
	case "404":
		return nil, status.Error(codes.NotFound, "no such order")
	case "bad":
		return nil, status.Error(codes.InvalidArgument, "bad id")
	case "down":
		return nil, status.Error(codes.Unavailable, "db down")
	case "boom":
		return nil, status.Error(codes.Internal, "bug")
	case "slow":
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(2 * time.Second): // only without a deadline
			return nil, status.Error(codes.Unavailable, "gave up waiting for a deadline that never came")
		}
	}
	return &Order{ID: req.ID, UserID: "u-42", TotalCents: 1999, Status: "paid"}, nil
}

func (f *fakeOrders) ListOrders(ctx context.Context, req *ListOrdersRequest) (*OrderList, error) {
	return &OrderList{}, nil
}

// startOrders serves fake over an in-memory listener and returns a client connection to it.
func startOrders(t *testing.T, fake OrdersServer) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	RegisterOrders(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///orders",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestRouteGRPC(t *testing.T) {
	fake := &fakeOrders{}
	client := NewOrdersClient(startOrders(t, fake))
	const budget = time.Second
	r := gin.New()
	r.Use(asUser("u-42"), withDeadline(budget))
	r.GET("/api/orders/:id", GetOrder(client))

	tests := []struct {
		id         string
		want       int
		backendMsg string // the backend's status message, which must not reach the client
	}{
		{id: "7", want: http.StatusOK},
		{id: "404", want: http.StatusNotFound, backendMsg: "no such order"},
		{id: "bad", want: http.StatusBadRequest, backendMsg: "bad id"},
		{id: "down", want: http.StatusServiceUnavailable, backendMsg: "db down"},
		{id: "boom", want: http.StatusBadGateway, backendMsg: "bug"},
		{id: "slow", want: http.StatusGatewayTimeout, backendMsg: "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/"+tt.id, nil))

			require.Equal(t, tt.want, rec.Code, "GET /api/orders/%s: status = %d, want %d (body %s)", tt.id, rec.Code, tt.want, rec.Body)
			if tt.backendMsg != "" {
				require.NotContains(t, rec.Body.String(), tt.backendMsg,
					"GET /api/orders/%s: body %q carries the backend's error message: answer with the status (or its code name) and log the message", tt.id, rec.Body)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			require.Equal(t, []string{"u-42"}, fake.userID, "gRPC backend saw metadata %s = %v, want [u-42]", MetadataUserID, fake.userID)
			require.True(t, fake.hadDeadline, "gRPC backend saw no deadline: call it with the request's context")
			require.LessOrEqual(t, fake.deadlineIn, budget, "gRPC backend's deadline is %v away, want no more than the gateway's %v", fake.deadlineIn, budget)
		})
	}

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/7", nil))
	var got Order
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "GET /api/orders/7 body %q is not an order in JSON", rec.Body)
	require.Equal(t, Order{ID: "7", UserID: "u-42", TotalCents: 1999, Status: "paid"}, got)
}

func TestRouteGRPCStatusMapping(t *testing.T) {
	tests := []struct {
		code codes.Code
		want int
	}{
		{codes.OK, 200}, {codes.InvalidArgument, 400}, {codes.Unauthenticated, 401}, {codes.PermissionDenied, 403},
		{codes.NotFound, 404}, {codes.AlreadyExists, 409}, {codes.FailedPrecondition, 409}, {codes.ResourceExhausted, 429},
		{codes.Unavailable, 503}, {codes.DeadlineExceeded, 504}, {codes.Canceled, 499},
		{codes.Internal, 502}, {codes.Unknown, 502}, {codes.DataLoss, 502},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, HTTPStatus(tt.code), "HTTPStatus(%v) = %d, want %d", tt.code, HTTPStatus(tt.code), tt.want)
	}
}
