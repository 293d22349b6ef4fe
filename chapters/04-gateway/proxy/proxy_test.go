package proxy

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
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
	Path   string
	UserID []string
	XFF    string
}

func TestRouteHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen seenRequest
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = seenRequest{Path: r.URL.Path, UserID: r.Header.Values(auth.HeaderUserID), XFF: r.Header.Get("X-Forwarded-For")}
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
		id   string
		want int
	}{
		{id: "7", want: http.StatusOK},
		{id: "404", want: http.StatusNotFound},
		{id: "bad", want: http.StatusBadRequest},
		{id: "down", want: http.StatusServiceUnavailable},
		{id: "boom", want: http.StatusBadGateway},
		{id: "slow", want: http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/"+tt.id, nil))

			require.Equal(t, tt.want, rec.Code, "GET /api/orders/%s: status = %d, want %d (body %s)", tt.id, rec.Code, tt.want, rec.Body)
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
