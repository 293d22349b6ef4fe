package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest/identity"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// mustUser registers a user and returns its id.
func mustUser(ctx context.Context, t *testing.T, f fixture, email string) string {
	t.Helper()
	resp, err := f.users.CreateUser(ctx, &userv1.CreateUserRequest{Email: email, Name: "Ada"})
	require.NoError(t, err, "CreateUser(%s) failed; the happy path must keep working", email)
	return resp.GetUser().GetId()
}

// mustOrder places a valid order for a new user and returns the order's id and a ctx that acts as
// its owner.
func mustOrder(ctx context.Context, t *testing.T, f fixture) (string, context.Context) {
	t.Helper()
	uid := mustUser(ctx, t, f, "buyer@example.com")
	owner := identity.As(ctx, uid)
	resp, err := f.orders.CreateOrder(owner, &orderv1.CreateOrderRequest{
		RequestId: "req-1", UserId: uid, Sku: "book", Quantity: 2, UnitPriceCents: 1250,
	})
	require.NoError(t, err, "CreateOrder(valid, as its own user) failed; the happy path must keep working")
	return resp.GetOrder().GetId(), owner
}

// badFields returns the fields named by the BadRequest details of err's status.
func badFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestStatusCodesForDomainErrors(t *testing.T) {
	tests := []struct {
		name      string
		call      func(context.Context, *testing.T, fixture) error
		want      codes.Code
		wantField string // for InvalidArgument: the field the BadRequest detail must name
	}{
		{
			name: "CreateUser with a valid email",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.users.CreateUser(ctx, &userv1.CreateUserRequest{Email: "ada@example.com", Name: "Ada"})
				return err
			},
			want: codes.OK,
		},
		{
			name: "GetUser with an unknown id",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.users.GetUser(ctx, &userv1.GetUserRequest{Id: "no-such-user"})
				return err
			},
			want: codes.NotFound,
		},
		{
			name: "CreateUser with a malformed email",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.users.CreateUser(ctx, &userv1.CreateUserRequest{Email: "not-an-email", Name: "Ada"})
				return err
			},
			want: codes.InvalidArgument, wantField: "email",
		},
		{
			name: "CreateUser with a taken email",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				mustUser(ctx, t, f, "ada@example.com")
				_, err := f.users.CreateUser(ctx, &userv1.CreateUserRequest{Email: "ada@example.com", Name: "Other"})
				return err
			},
			want: codes.AlreadyExists,
		},
		{
			name: "CreateOrder with quantity 0",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				uid := mustUser(ctx, t, f, "ada@example.com")
				_, err := f.orders.CreateOrder(identity.As(ctx, uid), &orderv1.CreateOrderRequest{
					RequestId: "r1", UserId: uid, Sku: "book", Quantity: 0, UnitPriceCents: 100,
				})
				return err
			},
			want: codes.InvalidArgument, wantField: "quantity",
		},
		{
			name: "CreateOrder whose total overflows int64",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				uid := mustUser(ctx, t, f, "ada@example.com")
				_, err := f.orders.CreateOrder(identity.As(ctx, uid), &orderv1.CreateOrderRequest{
					RequestId: "r1", UserId: uid, Sku: "book", Quantity: 100, UnitPriceCents: math.MaxInt64 / 50,
				})
				return err
			},
			want: codes.InvalidArgument, wantField: "unit_price_cents",
		},
		{
			name: "CreateOrder for an unknown user",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.CreateOrder(identity.As(ctx, "no-such-user"), &orderv1.CreateOrderRequest{
					RequestId: "r1", UserId: "no-such-user", Sku: "book", Quantity: 1, UnitPriceCents: 100,
				})
				return err
			},
			want: codes.InvalidArgument, wantField: "user_id",
		},
		{
			name: "GetOrder with an unknown id",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.GetOrder(identity.As(ctx, "u1"), &orderv1.GetOrderRequest{Id: "no-such-order"})
				return err
			},
			want: codes.NotFound,
		},
		{
			name: "PayOrder with an unknown id",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.PayOrder(identity.As(ctx, "u1"), &orderv1.PayOrderRequest{Id: "no-such-order"})
				return err
			},
			want: codes.NotFound,
		},
		{
			name: "CancelOrder on a paid order",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				id, owner := mustOrder(ctx, t, f)
				_, err := f.orders.PayOrder(owner, &orderv1.PayOrderRequest{Id: id})
				require.NoError(t, err, "PayOrder(pending order) failed; the happy path must keep working")
				_, err = f.orders.CancelOrder(owner, &orderv1.CancelOrderRequest{Id: id})
				return err
			},
			want: codes.FailedPrecondition,
		},
		{
			name: "PayOrder on a cancelled order",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				id, owner := mustOrder(ctx, t, f)
				_, err := f.orders.CancelOrder(owner, &orderv1.CancelOrderRequest{Id: id})
				require.NoError(t, err, "CancelOrder(pending order) failed; the happy path must keep working")
				_, err = f.orders.PayOrder(owner, &orderv1.PayOrderRequest{Id: id})
				return err
			},
			want: codes.FailedPrecondition,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := tc.call(ctx, t, newFixture(t))
			require.Equal(t, tc.want, status.Code(err), "%s: code = %v, want %v (map the domain error in toStatus; look through wrapping with errors.Is/As)",
				tc.name, status.Code(err), tc.want)
			if tc.wantField != "" {
				require.Contains(t, badFields(err), tc.wantField,
					"%s: InvalidArgument must carry an errdetails.BadRequest field violation naming %q", tc.name, tc.wantField)
			}
		})
	}
}

// brokenUsers is a user store whose every call fails with err.
type brokenUsers struct{ err error }

func (b brokenUsers) CreateUser(context.Context, shop.User) (shop.User, error) {
	return shop.User{}, b.err
}
func (b brokenUsers) User(context.Context, string) (shop.User, error) { return shop.User{}, b.err }

func TestStatusCodesForUnexpectedErrors(t *testing.T) {
	tests := []struct {
		name     string
		storeErr error
		want     codes.Code
	}{
		{name: "a driver error", storeErr: errors.New("read tcp 10.0.0.7:3306: connection reset by peer"), want: codes.Internal},
		{name: "a wrapped driver error", storeErr: fmt.Errorf("load user: %w", errors.New("disk full")), want: codes.Internal},
		{name: "a query that ran out of time", storeErr: fmt.Errorf("load user: %w", context.DeadlineExceeded), want: codes.DeadlineExceeded},
		{name: "a query whose caller went away", storeErr: fmt.Errorf("load user: %w", context.Canceled), want: codes.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn := grpctest.Serve(t, func(s *grpc.Server) {
				userv1.RegisterUserServiceServer(s, NewUserServer(brokenUsers{err: tc.storeErr}))
			}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := userv1.NewUserServiceClient(conn).GetUser(ctx, &userv1.GetUserRequest{Id: "u1"})
			require.Equal(t, tc.want, status.Code(err), "GetUser with a store failing with %q: code = %v, want %v",
				tc.name, status.Code(err), tc.want)
			requireNoLeak(t, err, "GetUser with a store failing with "+tc.name, "10.0.0.7", "3306", "connection reset", "disk full")
		})
	}
}

// requireNoLeak fails if the status message of err contains any of secrets: internal error text,
// hosts and addresses belong in our logs, never in a response (they map the network for an attacker,
// and the client can act on none of them).
func requireNoLeak(t *testing.T, err error, call string, secrets ...string) {
	t.Helper()
	msg := status.Convert(err).Message()
	for _, secret := range secrets {
		require.NotContains(t, msg, secret, "%s: status message %q contains %q; send a generic message and keep the cause in the logs",
			call, msg, secret)
	}
}

// failingUsers is a user service whose GetUser always fails with err.
type failingUsers struct {
	userv1.UnimplementedUserServiceServer
	err error
}

func (f failingUsers) GetUser(context.Context, *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	return nil, f.err
}

// orderClient serves an order server whose user service is reached through users, acting as "u1".
func orderClient(t *testing.T, users userv1.UserServiceClient) orderv1.OrderServiceClient {
	t.Helper()
	conn := grpctest.Serve(t, func(s *grpc.Server) {
		orderv1.RegisterOrderServiceServer(s, NewOrderServer(shop.NewStore(), users, time.Second))
	}, []grpc.ServerOption{grpc.UnaryInterceptor(identity.Interceptor)})
	return orderv1.NewOrderServiceClient(conn)
}

func TestStatusCodesForDownstreamErrors(t *testing.T) {
	// What the user service says is the user service's business. A client of the order service must
	// get the order service's code (order.proto: UNAVAILABLE when a dependency is down) and never the
	// downstream message with its hosts and addresses.
	const downstreamMsg = "dial tcp 10.9.8.7:7070: connect: connection refused"
	tests := []struct {
		name       string
		downstream error
		want       codes.Code
	}{
		{name: "user service unavailable", downstream: status.Error(codes.Unavailable, downstreamMsg), want: codes.Unavailable},
		{name: "user service internal error", downstream: status.Error(codes.Internal, "pq: relation users at 10.9.8.7:5432"), want: codes.Internal},
		{name: "user service rejects our credentials", downstream: status.Error(codes.Unauthenticated, "service token for 10.9.8.7 expired"), want: codes.Internal},
		{name: "user service denies our service", downstream: status.Error(codes.PermissionDenied, "order service at 10.9.8.7 may not read users"), want: codes.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			userConn := grpctest.Serve(t, func(s *grpc.Server) {
				userv1.RegisterUserServiceServer(s, failingUsers{err: tc.downstream})
			}, nil)
			orders := orderClient(t, userv1.NewUserServiceClient(userConn))
			ctx, cancel := context.WithTimeout(identity.As(context.Background(), "u1"), 5*time.Second)
			defer cancel()
			_, err := orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{RequestId: "r1", UserId: "u1", Sku: "book", Quantity: 1, UnitPriceCents: 100})
			require.Equal(t, tc.want, status.Code(err),
				"CreateOrder when the %s (%v): code = %v, want %v; a downstream code is not ours to pass on "+
					"(its Unauthenticated would tell our client that *its* token is bad)", tc.name, status.Code(tc.downstream), status.Code(err), tc.want)
			requireNoLeak(t, err, "CreateOrder when the "+tc.name, "10.9.8.7", status.Convert(tc.downstream).Message())
		})
	}

	t.Run("user service down", func(t *testing.T) {
		// A real outage: nothing listens on the user service's port any more.
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := lis.Addr().String()
		require.NoError(t, lis.Close())
		userConn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		t.Cleanup(func() { _ = userConn.Close() })

		orders := orderClient(t, userv1.NewUserServiceClient(userConn))
		ctx, cancel := context.WithTimeout(identity.As(context.Background(), "u1"), 5*time.Second)
		defer cancel()
		_, err = orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{RequestId: "r1", UserId: "u1", Sku: "book", Quantity: 1, UnitPriceCents: 100})
		require.Equal(t, codes.Unavailable, status.Code(err),
			"CreateOrder with the user service down: code = %v, want Unavailable, as order.proto documents (try again)", status.Code(err))
		_, port, _ := strings.Cut(addr, ":")
		requireNoLeak(t, err, "CreateOrder with the user service down", "127.0.0.1", port, "refused", "dial")
	})
}

func TestStatusOwnership(t *testing.T) {
	// A valid token says who the caller is, not which orders they may touch (broken object-level
	// authorisation, OWASP API1). Every order method acts only on the caller's own orders.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := newFixture(t)
	id, owner := mustOrder(ctx, t, f)
	mallory := mustUser(ctx, t, f, "mallory@example.com")
	asMallory := identity.As(ctx, mallory)

	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"GetOrder", func(ctx context.Context) error {
			_, err := f.orders.GetOrder(ctx, &orderv1.GetOrderRequest{Id: id})
			return err
		}},
		{"PayOrder", func(ctx context.Context) error {
			_, err := f.orders.PayOrder(ctx, &orderv1.PayOrderRequest{Id: id})
			return err
		}},
		{"CancelOrder", func(ctx context.Context) error {
			_, err := f.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{Id: id})
			return err
		}},
	}
	for _, c := range calls {
		err := c.call(asMallory)
		require.Equal(t, codes.PermissionDenied, status.Code(err),
			"%s(another user's order): code = %v, want PermissionDenied; check that the order belongs to the caller", c.name, status.Code(err))
		err = c.call(ctx)
		require.Equal(t, codes.Unauthenticated, status.Code(err),
			"%s with no authenticated caller: code = %v, want Unauthenticated (fail closed)", c.name, status.Code(err))
	}
	_, err := f.orders.CreateOrder(asMallory, &orderv1.CreateOrderRequest{
		RequestId: "on-your-account", UserId: mustUser(ctx, t, f, "victim@example.com"), Sku: "tv", Quantity: 1, UnitPriceCents: 99900,
	})
	require.Equal(t, codes.PermissionDenied, status.Code(err),
		"CreateOrder(user_id of another user): code = %v, want PermissionDenied; nobody orders on someone else's account", status.Code(err))

	got, err := f.orders.GetOrder(owner, &orderv1.GetOrderRequest{Id: id})
	require.NoError(t, err, "GetOrder(own order) failed; the owner must keep access")
	require.Equal(t, orderv1.OrderStatus_ORDER_STATUS_PENDING, got.GetOrder().GetStatus(),
		"the order is %v after another user tried to pay and cancel it, want PENDING", got.GetOrder().GetStatus())
	_, err = f.orders.PayOrder(owner, &orderv1.PayOrderRequest{Id: id})
	require.NoError(t, err, "PayOrder(own order) failed; the owner must be able to pay")
	require.Equal(t, 1, f.store.OrderCount(), "orders stored = %d, want 1: a denied CreateOrder must store nothing", f.store.OrderCount())
}
