package client

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest/identity"
	"github.com/gomicrolab/microlab/chapters/03-grpc/server"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// scripted answers every call with the error its script gives for the call's number (1, 2, ...),
// and counts the calls that reached the server.
type scripted struct {
	calls  atomic.Int64
	script func(call int64) error
}

func (s *scripted) next() error { return s.script(s.calls.Add(1)) }

// failFirst fails the first n calls with code, and lets the rest succeed.
func failFirst(n int64, code codes.Code) func(int64) error {
	return func(call int64) error {
		if call <= n {
			return status.Errorf(code, "scripted failure %d", call)
		}
		return nil
	}
}

type scriptedUsers struct {
	userv1.UnimplementedUserServiceServer
	*scripted
}

func (s scriptedUsers) GetUser(context.Context, *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &userv1.GetUserResponse{User: &userv1.User{Id: "u1"}}, nil
}

func (s scriptedUsers) CreateUser(context.Context, *userv1.CreateUserRequest) (*userv1.CreateUserResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &userv1.CreateUserResponse{User: &userv1.User{Id: "u1"}}, nil
}

type scriptedOrders struct {
	orderv1.UnimplementedOrderServiceServer
	*scripted
}

func (s scriptedOrders) CreateOrder(context.Context, *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &orderv1.CreateOrderResponse{Order: &orderv1.Order{Id: "o1"}}, nil
}

func (s scriptedOrders) GetOrder(context.Context, *orderv1.GetOrderRequest) (*orderv1.GetOrderResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &orderv1.GetOrderResponse{Order: &orderv1.Order{Id: "o1"}}, nil
}

func (s scriptedOrders) PayOrder(context.Context, *orderv1.PayOrderRequest) (*orderv1.PayOrderResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &orderv1.PayOrderResponse{Order: &orderv1.Order{Id: "o1"}}, nil
}

func (s scriptedOrders) CancelOrder(context.Context, *orderv1.CancelOrderRequest) (*orderv1.CancelOrderResponse, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	return &orderv1.CancelOrderResponse{Order: &orderv1.Order{Id: "o1"}}, nil
}

// method is one RPC of each service, served by a scripted fake and called through Dial.
type method struct {
	name string
	call func(ctx context.Context, t *testing.T, script func(int64) error) (calls *atomic.Int64, err error)
}

func dial(t *testing.T, dialOpts []grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := Dial(grpctest.Target, dialOpts...)
	require.NoError(t, err, "Dial(%s) failed; is ServiceConfig valid JSON for a gRPC service config?", grpctest.Target)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// userMethod and orderMethod build a method whose call runs on a scripted fake of its service.
func userMethod(name string, call func(context.Context, userv1.UserServiceClient) error) method {
	return method{name: "UserService." + name, call: func(ctx context.Context, t *testing.T, script func(int64) error) (*atomic.Int64, error) {
		fake := scriptedUsers{scripted: &scripted{script: script}}
		cc := dial(t, grpctest.Start(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, fake) }, nil))
		return &fake.calls, call(ctx, userv1.NewUserServiceClient(cc))
	}}
}

func orderMethod(name string, call func(context.Context, orderv1.OrderServiceClient) error) method {
	return method{name: "OrderService." + name, call: func(ctx context.Context, t *testing.T, script func(int64) error) (*atomic.Int64, error) {
		fake := scriptedOrders{scripted: &scripted{script: script}}
		cc := dial(t, grpctest.Start(t, func(s *grpc.Server) { orderv1.RegisterOrderServiceServer(s, fake) }, nil))
		return &fake.calls, call(ctx, orderv1.NewOrderServiceClient(cc))
	}}
}

// methods are safe to repeat: reads, and CreateOrder, which is idempotent on its request id.
var methods = []method{
	userMethod("GetUser", func(ctx context.Context, c userv1.UserServiceClient) error {
		_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "u1"})
		return err
	}),
	orderMethod("GetOrder", func(ctx context.Context, c orderv1.OrderServiceClient) error {
		_, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{Id: "o1"})
		return err
	}),
	orderMethod("CreateOrder", func(ctx context.Context, c orderv1.OrderServiceClient) error {
		_, err := c.CreateOrder(ctx, &orderv1.CreateOrderRequest{RequestId: "r1"})
		return err
	}),
}

// unsafeMethods change state and carry no idempotency key: if the server acted and the response
// was lost, a retry acts again (or fails with a confusing FailedPrecondition or AlreadyExists).
var unsafeMethods = []method{
	orderMethod("PayOrder", func(ctx context.Context, c orderv1.OrderServiceClient) error {
		_, err := c.PayOrder(ctx, &orderv1.PayOrderRequest{Id: "o1"})
		return err
	}),
	orderMethod("CancelOrder", func(ctx context.Context, c orderv1.OrderServiceClient) error {
		_, err := c.CancelOrder(ctx, &orderv1.CancelOrderRequest{Id: "o1"})
		return err
	}),
	userMethod("CreateUser", func(ctx context.Context, c userv1.UserServiceClient) error {
		_, err := c.CreateUser(ctx, &userv1.CreateUserRequest{Email: "ada@example.com", Name: "Ada"})
		return err
	}),
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRetryUnavailableIsRetried(t *testing.T) {
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			calls, err := m.call(testCtx(t), t, failFirst(2, codes.Unavailable))
			require.NoError(t, err, "%s failing twice with UNAVAILABLE, then succeeding: want success after retries "+
				"(add a retryPolicy to ServiceConfig that names this method)", m.name)
			require.EqualValues(t, 3, calls.Load(), "%s server calls = %d, want 3 (two failures, then success)", m.name, calls.Load())
		})
	}
}

func TestRetryOtherCodesAreNotRetried(t *testing.T) {
	for _, code := range []codes.Code{
		codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.Unauthenticated, codes.PermissionDenied, codes.Internal, codes.Unknown,
		codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Canceled,
	} {
		for _, m := range methods {
			t.Run(m.name+"/"+code.String(), func(t *testing.T) {
				calls, err := m.call(testCtx(t), t, failFirst(1, code))
				require.Equal(t, code, status.Code(err), "%s failing with %v: code = %v, want %v", m.name, code, status.Code(err), code)
				require.EqualValues(t, 1, calls.Load(), "%s failing with %v: server calls = %d, want 1; retry UNAVAILABLE only",
					m.name, code, calls.Load())
			})
		}
	}
}

func TestRetryUnsafeMethodsAreNotRetried(t *testing.T) {
	for _, m := range unsafeMethods {
		t.Run(m.name, func(t *testing.T) {
			calls, err := m.call(testCtx(t), t, failFirst(1, codes.Unavailable))
			require.Equal(t, codes.Unavailable, status.Code(err), "%s failing once with UNAVAILABLE: code = %v, want Unavailable "+
				"(returned to the caller, not retried)", m.name, status.Code(err))
			require.EqualValues(t, 1, calls.Load(), "%s failing with UNAVAILABLE: server calls = %d, want 1; UNAVAILABLE does not "+
				"mean the server did nothing, and %s has no idempotency key, so give it no retry policy", m.name, calls.Load(), m.name)
		})
	}
}

// retryPolicy is the part of a gRPC service config that TestRetryBackoff reads.
type retryPolicy struct {
	MaxAttempts          int      `json:"maxAttempts"`
	InitialBackoff       string   `json:"initialBackoff"`
	MaxBackoff           string   `json:"maxBackoff"`
	BackoffMultiplier    float64  `json:"backoffMultiplier"`
	RetryableStatusCodes []string `json:"retryableStatusCodes"`
}

func TestRetryBackoff(t *testing.T) {
	// gRPC draws each wait uniformly from [0, current backoff], so the waits of one run cannot prove
	// a backoff without flaking: the policy itself is checked, as a reviewer would read it.
	var cfg struct {
		MethodConfig []struct {
			RetryPolicy *retryPolicy `json:"retryPolicy"`
		} `json:"methodConfig"`
	}
	require.NoError(t, json.Unmarshal([]byte(ServiceConfig), &cfg), "ServiceConfig is not valid JSON")
	policies := 0
	for _, mc := range cfg.MethodConfig {
		p := mc.RetryPolicy
		if p == nil {
			continue
		}
		policies++
		initial, err := time.ParseDuration(p.InitialBackoff)
		require.NoError(t, err, "initialBackoff %q is not a duration like \"0.05s\"", p.InitialBackoff)
		maxB, err := time.ParseDuration(p.MaxBackoff)
		require.NoError(t, err, "maxBackoff %q is not a duration like \"0.5s\"", p.MaxBackoff)
		require.GreaterOrEqual(t, initial, 10*time.Millisecond, "initialBackoff = %v, want at least 10ms: "+
			"retrying a server that just failed at once, from every client, is a retry storm", initial)
		require.GreaterOrEqual(t, p.BackoffMultiplier, 1.5, "backoffMultiplier = %v, want at least 1.5: "+
			"the waits must grow (exponential backoff) so that a longer outage gets fewer attempts", p.BackoffMultiplier)
		require.GreaterOrEqual(t, maxB, 2*initial, "maxBackoff = %v with initialBackoff %v: the cap leaves no room to back off", maxB, initial)
		require.LessOrEqual(t, maxB, time.Second, "maxBackoff = %v, want at most 1s, so that retries fit in a caller's deadline", maxB)
		require.Equal(t, []string{"UNAVAILABLE"}, p.RetryableStatusCodes, "retryableStatusCodes; retry UNAVAILABLE only")
	}
	require.NotZero(t, policies, "ServiceConfig has no retryPolicy")
}

func TestRetryGivesUp(t *testing.T) {
	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			start := time.Now()
			calls, err := m.call(testCtx(t), t, func(int64) error { return status.Error(codes.Unavailable, "down") })
			require.Equal(t, codes.Unavailable, status.Code(err), "%s always UNAVAILABLE: code = %v, want Unavailable", m.name, status.Code(err))
			require.GreaterOrEqual(t, calls.Load(), int64(3), "%s always UNAVAILABLE: server calls = %d, want 4 attempts", m.name, calls.Load())
			require.LessOrEqual(t, calls.Load(), int64(5), "%s always UNAVAILABLE: server calls = %d, want 4 attempts", m.name, calls.Load())
			require.Less(t, time.Since(start), 3*time.Second, "%s: retries took %v; keep the backoff well under a second", m.name, time.Since(start))
		})
	}
}

// shopWithLossyOrders runs the real user and order services on one store. lose decides, per
// CreateOrder attempt (1, 2, ...), whether the order server does the work and then "loses" the
// response: the client gets UNAVAILABLE although the order was stored.
func shopWithLossyOrders(t *testing.T, lose func(attempt int64) bool) (*shop.Store, string, orderv1.OrderServiceClient, *atomic.Int64) {
	t.Helper()
	store := shop.NewStore()
	orderStore := slowLookups{Store: store}
	u, err := store.CreateUser(context.Background(), shop.User{Email: "ada@example.com", Name: "Ada"})
	require.NoError(t, err)
	userConn := grpctest.Serve(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, server.NewUserServer(store)) }, nil)

	attempts := new(atomic.Int64)
	lossy := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod != orderv1.OrderService_CreateOrder_FullMethodName {
			return handler(ctx, req)
		}
		n := attempts.Add(1)
		resp, err := handler(ctx, req)
		if err == nil && lose(n) {
			return nil, status.Error(codes.Unavailable, "response lost on the way back")
		}
		return resp, err
	}
	orders := server.NewOrderServer(orderStore, userv1.NewUserServiceClient(userConn), time.Second)
	cc := dial(t, grpctest.Start(t, func(s *grpc.Server) { orderv1.RegisterOrderServiceServer(s, orders) },
		[]grpc.ServerOption{grpc.ChainUnaryInterceptor(lossy, identity.Interceptor)}))
	return store, u.ID, orderv1.NewOrderServiceClient(cc), attempts
}

// slowLookups is the shop's store with a lookup by request id that takes a while, as a query to a
// real database does. Concurrent requests then overlap the way they do in production.
type slowLookups struct{ *shop.Store }

func (s slowLookups) OrderByRequestID(ctx context.Context, requestID string) (shop.Order, error) {
	o, err := s.Store.OrderByRequestID(ctx, requestID)
	time.Sleep(50 * time.Millisecond)
	return o, err
}

func TestRetryIdempotentCreateAfterLostResponse(t *testing.T) {
	store, userID, orders, attempts := shopWithLossyOrders(t, func(attempt int64) bool { return attempt == 1 })
	ctx := identity.As(testCtx(t), userID)

	resp, err := orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
		RequestId: "checkout-7", UserId: userID, Sku: "book", Quantity: 1, UnitPriceCents: 1999,
	})
	require.NoError(t, err, "CreateOrder whose first response was lost: want the retry to succeed "+
		"(retry UNAVAILABLE, and make the server return the first order for a repeated request id)")
	require.EqualValues(t, 2, attempts.Load(), "CreateOrder attempts = %d, want 2 (the lost one and one retry)", attempts.Load())
	require.Equal(t, 1, store.OrderCount(), "orders stored = %d, want 1: a retry must not place a second order", store.OrderCount())
	first, err := store.OrderByRequestID(ctx, "checkout-7")
	require.NoError(t, err)
	require.Equal(t, first.ID, resp.GetOrder().GetId(), "the retry answered order %q, want the first order %q", resp.GetOrder().GetId(), first.ID)
}

func TestRetryIdempotentCreateConcurrent(t *testing.T) {
	store, userID, orders, _ := shopWithLossyOrders(t, func(int64) bool { return false })
	ctx := identity.As(testCtx(t), userID)

	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
				RequestId: "double-click", UserId: userID, Sku: "book", Quantity: 1, UnitPriceCents: 1999,
			})
			ids[i], errs[i] = resp.GetOrder().GetId(), err
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		require.NoError(t, errs[i], "concurrent CreateOrder #%d with a shared request id failed; every one must get the single order", i)
		require.Equal(t, ids[0], ids[i], "concurrent CreateOrder #%d answered order %q, want %q like the others", i, ids[i], ids[0])
	}
	require.Equal(t, 1, store.OrderCount(), "orders stored = %d, want 1 for %d calls with one request id", store.OrderCount(), n)
}

func TestRetryRequestIDOfAnotherUser(t *testing.T) {
	store, userID, orders, _ := shopWithLossyOrders(t, func(int64) bool { return false })
	ctx := testCtx(t)
	first, err := orders.CreateOrder(identity.As(ctx, userID), &orderv1.CreateOrderRequest{
		RequestId: "checkout-1", UserId: userID, Sku: "book", Quantity: 1, UnitPriceCents: 1999,
	})
	require.NoError(t, err, "CreateOrder(valid) failed; the happy path must keep working")

	other, err := store.CreateUser(ctx, shop.User{Email: "eve@example.com", Name: "Eve"})
	require.NoError(t, err)
	resp, err := orders.CreateOrder(identity.As(ctx, other.ID), &orderv1.CreateOrderRequest{
		RequestId: "checkout-1", UserId: other.ID, Sku: "tv", Quantity: 1, UnitPriceCents: 99900,
	})
	require.Error(t, err, "CreateOrder(another user's request id) answered order %q of user %q; a request id is "+
		"not a password: answering with its order leaks it", resp.GetOrder().GetId(), resp.GetOrder().GetUserId())
	require.NotEqual(t, first.GetOrder().GetId(), resp.GetOrder().GetId())
	require.Equal(t, codes.AlreadyExists, status.Code(err), "CreateOrder(another user's request id): code = %v, want AlreadyExists", status.Code(err))
}
