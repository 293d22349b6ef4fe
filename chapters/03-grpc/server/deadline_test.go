package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest/identity"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// slack allows for the time a request spends in transit and waiting for a CPU: each server computes
// its deadline from the grpc-timeout header when the request arrives, after the client computed it,
// and on a loaded machine (two cores, -race, other test binaries) that can take a few hundred
// milliseconds. It is still far below what it must tell apart: a deadline that is seconds too late.
const slack = 500 * time.Millisecond

// giveUp is how long the slow user service waits before it stops on its own.
const giveUp = 3 * time.Second

// seenCall is what the slow user service observed about one GetUser call.
type seenCall struct {
	deadline    time.Time
	hasDeadline bool
	cancelled   bool      // its ctx ended before giveUp
	ended       time.Time // when it stopped waiting
}

// slowUsers is a user service that never answers: it waits until its ctx ends (or giveUp passes)
// and reports what it saw.
type slowUsers struct {
	userv1.UnimplementedUserServiceServer
	started chan struct{}
	seen    chan seenCall
}

func (s *slowUsers) GetUser(ctx context.Context, _ *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	deadline, ok := ctx.Deadline()
	s.started <- struct{}{}
	select {
	case <-ctx.Done():
		s.seen <- seenCall{deadline: deadline, hasDeadline: ok, cancelled: true, ended: time.Now()}
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-time.After(giveUp):
		s.seen <- seenCall{deadline: deadline, hasDeadline: ok, ended: time.Now()}
		return nil, status.Error(codes.Unavailable, "slow user service gave up")
	}
}

// slowFixture is an order service whose user service never answers, and a count of
// CreateOrder handlers still running on the order server.
type slowFixture struct {
	users   *slowUsers
	orders  orderv1.OrderServiceClient
	store   *shop.Store
	running *atomic.Int64
}

func newSlowFixture(t *testing.T, userTimeout time.Duration) slowFixture {
	t.Helper()
	users := &slowUsers{started: make(chan struct{}, 1), seen: make(chan seenCall, 1)}
	userConn := grpctest.Serve(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, users) }, nil)

	running := new(atomic.Int64)
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		running.Add(1)
		defer running.Add(-1)
		return handler(ctx, req)
	}
	store := shop.NewStore()
	orderConn := grpctest.Serve(t, func(s *grpc.Server) {
		orderv1.RegisterOrderServiceServer(s, NewOrderServer(store, userv1.NewUserServiceClient(userConn), userTimeout))
	}, []grpc.ServerOption{grpc.ChainUnaryInterceptor(count, identity.Interceptor)})
	return slowFixture{users: users, orders: orderv1.NewOrderServiceClient(orderConn), store: store, running: running}
}

func validOrder() *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{RequestId: "req-1", UserId: "u1", Sku: "book", Quantity: 1, UnitPriceCents: 500}
}

// waitSeen returns what the user service saw, or fails if it never reported.
func (f slowFixture) waitSeen(t *testing.T) seenCall {
	t.Helper()
	select {
	case c := <-f.users.seen:
		return c
	case <-time.After(giveUp + 2*time.Second):
		t.Fatal("the user service was never called; CreateOrder must check the user before it creates the order")
		return seenCall{}
	}
}

func TestDeadlinePropagatesToUserService(t *testing.T) {
	f := newSlowFixture(t, 10*time.Second) // the per-call bound is generous: the caller's deadline is the tighter one
	ctx, cancel := context.WithTimeout(identity.As(context.Background(), "u1"), 300*time.Millisecond)
	defer cancel()
	callerDeadline, _ := ctx.Deadline()

	_, err := f.orders.CreateOrder(ctx, validOrder())
	require.Equal(t, codes.DeadlineExceeded, status.Code(err), "CreateOrder(slow user service, 300ms deadline): code = %v, want DeadlineExceeded", status.Code(err))

	seen := f.waitSeen(t)
	require.True(t, seen.hasDeadline,
		"the user service saw no deadline; derive the downstream call's ctx from the handler's ctx (not context.Background())")
	require.False(t, seen.deadline.After(callerDeadline.Add(slack)),
		"the user service's deadline is %v after the caller's; a downstream deadline must never outlive the caller's",
		seen.deadline.Sub(callerDeadline))
	require.True(t, seen.cancelled && seen.ended.Before(callerDeadline.Add(time.Second)),
		"the user service kept working %v after the caller's deadline passed; it must stop when the deadline does",
		seen.ended.Sub(callerDeadline))
	require.Zero(t, f.store.OrderCount(), "an order was created although the user check never finished")
}

func TestDeadlinePerCallTimeoutBoundsDownstream(t *testing.T) {
	const userTimeout = 200 * time.Millisecond
	f := newSlowFixture(t, userTimeout)
	ctx, cancel := context.WithTimeout(identity.As(context.Background(), "u1"), 10*time.Second) // a patient caller
	defer cancel()

	start := time.Now()
	_, err := f.orders.CreateOrder(ctx, validOrder())
	elapsed := time.Since(start)
	require.Error(t, err, "CreateOrder(user service never answers) succeeded, want an error")

	seen := f.waitSeen(t)
	require.True(t, seen.hasDeadline,
		"the user service saw no deadline although the caller's was 10s away; bound every downstream call by userTimeout too")
	require.False(t, seen.deadline.After(start.Add(userTimeout+slack)),
		"the user service's deadline is %v after the call began, want at most userTimeout (%v)", seen.deadline.Sub(start), userTimeout)
	require.Less(t, elapsed, 2*time.Second,
		"CreateOrder took %v with a %v per-call timeout; a slow dependency must not hold the handler", elapsed, userTimeout)
}

func TestDeadlineCancelStopsWork(t *testing.T) {
	f := newSlowFixture(t, 10*time.Second)
	ctx, cancel := context.WithCancel(identity.As(context.Background(), "u1")) // no deadline at all: only cancellation
	defer cancel()

	done := make(chan error, 1)
	go func() {
		_, err := f.orders.CreateOrder(ctx, validOrder())
		done <- err
	}()
	select {
	case <-f.users.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the user service was never called; CreateOrder must check the user before it creates the order")
	}
	cancelled := time.Now()
	cancel()

	require.Equal(t, codes.Canceled, status.Code(<-done), "CreateOrder after cancel: want Canceled")
	seen := f.waitSeen(t)
	require.True(t, seen.cancelled && seen.ended.Before(cancelled.Add(time.Second)),
		"the user service kept working %v after the caller cancelled; the downstream ctx must be a child of the handler's ctx",
		seen.ended.Sub(cancelled))
	require.Eventually(t, func() bool { return f.running.Load() == 0 }, time.Second, 10*time.Millisecond,
		"the order server's CreateOrder handler was still running 1s after the caller cancelled; stop work when ctx is done")
	require.Zero(t, f.store.OrderCount(), "an order was created for a cancelled call")
}

func TestDeadlineNeedsAPerCallTimeout(t *testing.T) {
	// A zero userTimeout would make every downstream call fail at once (or, with a "0 means none"
	// reading, never time out): the constructor refuses it rather than guess.
	users := userv1.NewUserServiceClient(grpctest.Serve(t, func(*grpc.Server) {}, nil))
	require.Panics(t, func() { NewOrderServer(shop.NewStore(), users, 0) },
		"NewOrderServer(userTimeout 0) must panic: a per-call budget of zero is a configuration bug")
}
