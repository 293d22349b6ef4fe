package interceptor

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const getUser = userv1.UserService_GetUser_FullMethodName

// The request's id tells the fake user service what to do.
const (
	idPanic    = "panic"     // the handler panics
	idNotFound = "not-found" // the handler returns NotFound
)

// fakeUsers answers GetUser according to the request's id, and counts the calls that reached it.
type fakeUsers struct {
	userv1.UnimplementedUserServiceServer
	calls      atomic.Int64
	lastUserID atomic.Value // the UserID the handler found in its ctx, if any
}

func (f *fakeUsers) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	f.calls.Add(1)
	if id, ok := UserID(ctx); ok {
		f.lastUserID.Store(id)
	}
	switch req.GetId() {
	case idPanic:
		var m map[string]int
		m["boom"]++ // a genuine runtime panic: assignment to entry in nil map
	case idNotFound:
		return nil, status.Error(codes.NotFound, "no such user")
	}
	return &userv1.GetUserResponse{User: &userv1.User{Id: req.GetId()}}, nil
}

// Tokens the test verifier knows.
const (
	goodToken  = "token-of-u42"
	panicToken = "token-that-crashes-the-verifier"
)

func verify(_ context.Context, token string) (string, error) {
	switch token {
	case goodToken:
		return "u42", nil
	case panicToken:
		panic("verifier bug")
	}
	return "", errors.New("unknown token")
}

func serveUsers(t *testing.T, opts ...grpc.ServerOption) (*fakeUsers, userv1.UserServiceClient) {
	t.Helper()
	users := &fakeUsers{}
	conn := grpctest.Serve(t, func(s *grpc.Server) { userv1.RegisterUserServiceServer(s, users) }, opts)
	return users, userv1.NewUserServiceClient(conn)
}

func callCtx(t *testing.T, authorization ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	if len(authorization) > 0 {
		md := metadata.MD{}
		for _, a := range authorization {
			md.Append("authorization", a)
		}
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	return ctx
}

func TestInterceptorRecovery(t *testing.T) {
	users, client := serveUsers(t, grpc.UnaryInterceptor(Recovery(slog.New(newLogRecorder()))))

	_, err := client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: idPanic})
	require.Equal(t, codes.Internal, status.Code(err), "GetUser(handler panics) through Recovery: code = %v, want Internal", status.Code(err))

	_, err = client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: idNotFound})
	require.Equal(t, codes.NotFound, status.Code(err), "GetUser(handler returns NotFound) through Recovery: code = %v, want NotFound (pass errors through unchanged)", status.Code(err))

	resp, err := client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: "u1"})
	require.NoError(t, err, "GetUser(ok) after a recovered panic failed; the server must keep serving")
	require.Equal(t, "u1", resp.GetUser().GetId(), "GetUser(u1) returned the wrong user; pass the handler's response through")
	require.EqualValues(t, 3, users.calls.Load(), "handler calls = %d, want 3", users.calls.Load())
}

func TestInterceptorLogging(t *testing.T) {
	logs := newLogRecorder()
	_, client := serveUsers(t, grpc.UnaryInterceptor(Logging(slog.New(logs))))

	_, err := client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: "u1"})
	require.NoError(t, err, "GetUser(ok) through Logging failed; pass the handler's result through")
	_, err = client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: idNotFound})
	require.Equal(t, codes.NotFound, status.Code(err), "GetUser(not found) through Logging: code = %v, want NotFound", status.Code(err))

	require.Equal(t, []string{codes.OK.String(), codes.NotFound.String()}, logs.codes(getUser),
		"logged codes for %s; want one record per call with method=%q and code=<the code's name>", getUser, getUser)
	require.Equal(t, []string{slog.LevelInfo.String(), slog.LevelError.String()}, logs.levels(getUser),
		"log levels for an OK call and a failed call; want INFO then ERROR")
}

func TestInterceptorAuth(t *testing.T) {
	tests := []struct {
		name          string
		authorization []string // values of the "authorization" metadata; none means no metadata at all
		want          codes.Code
	}{
		{name: "no metadata", want: codes.Unauthenticated},
		{name: "empty header", authorization: []string{""}, want: codes.Unauthenticated},
		{name: "another scheme", authorization: []string{"Basic dTQyOnNlY3JldA=="}, want: codes.Unauthenticated},
		{name: "bearer without token", authorization: []string{"Bearer "}, want: codes.Unauthenticated},
		{name: "token without scheme", authorization: []string{goodToken}, want: codes.Unauthenticated},
		{name: "unknown token", authorization: []string{"Bearer forged"}, want: codes.Unauthenticated},
		{name: "valid token", authorization: []string{"Bearer " + goodToken}, want: codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, client := serveUsers(t, grpc.UnaryInterceptor(Auth(verify)))
			_, err := client.GetUser(callCtx(t, tc.authorization...), &userv1.GetUserRequest{Id: "u1"})
			require.Equal(t, tc.want, status.Code(err), "GetUser(authorization %q): code = %v, want %v", tc.authorization, status.Code(err), tc.want)
			if tc.want != codes.OK {
				require.Zero(t, users.calls.Load(), "GetUser(authorization %q) reached the handler; reject it before", tc.authorization)
				return
			}
			require.Equal(t, "u42", users.lastUserID.Load(), "the handler's UserID(ctx); want the id the verifier returned, stored with withUserID")
		})
	}
}

// TestInterceptorChainOrder checks the consequences of the order Chain picks. If it crashes with
// "panic: verifier bug", Recovery does not wrap Auth.
func TestInterceptorChainOrder(t *testing.T) {
	logs := newLogRecorder()
	users, client := serveUsers(t, Chain(slog.New(logs), verify))
	bearer := "Bearer " + goodToken

	_, err := client.GetUser(callCtx(t, bearer), &userv1.GetUserRequest{Id: "u1"})
	require.NoError(t, err, "GetUser(valid token) through Chain failed")
	require.Equal(t, "u42", users.lastUserID.Load(), "the handler's UserID(ctx) through Chain; want the verifier's user id")

	_, err = client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: "u1"})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "GetUser(no token) through Chain: code = %v, want Unauthenticated", status.Code(err))
	require.EqualValues(t, 1, users.calls.Load(), "an unauthenticated call reached the handler; Auth must run before it")

	_, err = client.GetUser(callCtx(t, bearer), &userv1.GetUserRequest{Id: idPanic})
	require.Equal(t, codes.Internal, status.Code(err), "GetUser(handler panics) through Chain: code = %v, want Internal", status.Code(err))

	_, err = client.GetUser(callCtx(t, "Bearer "+panicToken), &userv1.GetUserRequest{Id: "u1"})
	require.Equal(t, codes.Internal, status.Code(err), "GetUser(verifier panics) through Chain: code = %v, want Internal; Recovery must wrap Auth too", status.Code(err))

	want := []string{codes.OK.String(), codes.Unauthenticated.String(), codes.Internal.String(), codes.Internal.String()}
	require.Equal(t, want, logs.codes(getUser),
		"logged codes through Chain; Logging must be outermost so that it records the final code of every call, "+
			"including Auth's rejections and the Internal that Recovery makes of a panic")
}
