package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mustUser registers a user and returns its id.
func mustUser(ctx context.Context, t *testing.T, f fixture, email string) string {
	t.Helper()
	resp, err := f.users.CreateUser(ctx, &userv1.CreateUserRequest{Email: email, Name: "Ada"})
	require.NoError(t, err, "CreateUser(%s) failed; the happy path must keep working", email)
	return resp.GetUser().GetId()
}

// mustOrder places a valid order for a new user and returns the order's id.
func mustOrder(ctx context.Context, t *testing.T, f fixture) string {
	t.Helper()
	uid := mustUser(ctx, t, f, "buyer@example.com")
	resp, err := f.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
		RequestId: "req-1", UserId: uid, Sku: "book", Quantity: 2, UnitPriceCents: 1250,
	})
	require.NoError(t, err, "CreateOrder(valid) failed; the happy path must keep working")
	return resp.GetOrder().GetId()
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
				_, err := f.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
					RequestId: "r1", UserId: uid, Sku: "book", Quantity: 0, UnitPriceCents: 100,
				})
				return err
			},
			want: codes.InvalidArgument, wantField: "quantity",
		},
		{
			name: "CreateOrder for an unknown user",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.CreateOrder(ctx, &orderv1.CreateOrderRequest{
					RequestId: "r1", UserId: "no-such-user", Sku: "book", Quantity: 1, UnitPriceCents: 100,
				})
				return err
			},
			want: codes.InvalidArgument, wantField: "user_id",
		},
		{
			name: "GetOrder with an unknown id",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.GetOrder(ctx, &orderv1.GetOrderRequest{Id: "no-such-order"})
				return err
			},
			want: codes.NotFound,
		},
		{
			name: "PayOrder with an unknown id",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				_, err := f.orders.PayOrder(ctx, &orderv1.PayOrderRequest{Id: "no-such-order"})
				return err
			},
			want: codes.NotFound,
		},
		{
			name: "CancelOrder on a paid order",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				id := mustOrder(ctx, t, f)
				_, err := f.orders.PayOrder(ctx, &orderv1.PayOrderRequest{Id: id})
				require.NoError(t, err, "PayOrder(pending order) failed; the happy path must keep working")
				_, err = f.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{Id: id})
				return err
			},
			want: codes.FailedPrecondition,
		},
		{
			name: "PayOrder on a cancelled order",
			call: func(ctx context.Context, t *testing.T, f fixture) error {
				id := mustOrder(ctx, t, f)
				_, err := f.orders.CancelOrder(ctx, &orderv1.CancelOrderRequest{Id: id})
				require.NoError(t, err, "CancelOrder(pending order) failed; the happy path must keep working")
				_, err = f.orders.PayOrder(ctx, &orderv1.PayOrderRequest{Id: id})
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
		})
	}
}
