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
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

const getUser = userv1.UserService_GetUser_FullMethodName

// The request's id tells the fake user service what to do.
const (
	idPanic    = "panic"     // the handler panics
	idNotFound = "not-found" // the handler returns NotFound
)

// panicText is part of the runtime's message for the idPanic handler's panic; panicFrame is the
// handler's frame in its stack.
const (
	panicText  = "assignment to entry in nil map"
	panicFrame = "(*fakeUsers).GetUser"
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
	goodToken   = "token-of-u42"
	panicToken  = "token-that-crashes-the-verifier"
	nobodyToken = "token-the-verifier-maps-to-no-user"
)

func verify(_ context.Context, token string) (string, error) {
	switch token {
	case goodToken:
		return "u42", nil
	case panicToken:
		panic("verifier bug")
	case nobodyToken:
		return "", nil // a verifier bug (a token row with no user): Auth must still refuse it
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
	logs := newLogRecorder()
	users, client := serveUsers(t, grpc.UnaryInterceptor(Recovery(slog.New(logs))))

	_, err := client.GetUser(callCtx(t), &userv1.GetUserRequest{Id: idPanic})
	require.Equal(t, codes.Internal, status.Code(err), "GetUser(handler panics) through Recovery: code = %v, want Internal", status.Code(err))
	msg := status.Convert(err).Message()
	for _, secret := range []string{panicText, "goroutine", "fakeUsers"} {
		require.NotContains(t, msg, secret, "GetUser(handler panics): the client's message %q contains %q; "+
			"a panic value and stack are for our logs, the client gets a bare Internal", msg, secret)
	}
	require.True(t, logs.some(slog.LevelError, panicText), "no ERROR record holds the panic value %q; "+
		"log it at Error, or the crash is invisible to whoever is on call", panicText)
	require.True(t, logs.some(slog.LevelError, panicText, panicFrame), "no ERROR record with the panic value holds its stack "+
		"(a trace through %s, like debug.Stack gives); without the stack nobody can find the line that panicked", panicFrame)

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
	for i, d := range logs.attr(getUser, "duration") {
		require.NotEmpty(t, d, "log record %d for %s has no \"duration\" attribute; latency is what you look for first in an incident", i, getUser)
	}
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
		{name: "verifier returns no user", authorization: []string{"Bearer " + nobodyToken}, want: codes.Unauthenticated},
		{name: "two headers, the valid one first", authorization: []string{"Bearer " + goodToken, "Bearer forged"}, want: codes.Unauthenticated},
		{name: "two headers, the valid one second", authorization: []string{"Bearer forged", "Bearer " + goodToken}, want: codes.Unauthenticated},
		{name: "two valid headers", authorization: []string{"Bearer " + goodToken, "Bearer " + goodToken}, want: codes.Unauthenticated},
		{name: "valid token", authorization: []string{"Bearer " + goodToken}, want: codes.OK},
		{name: "lower-case scheme", authorization: []string{"bearer " + goodToken}, want: codes.OK},
		{name: "upper-case scheme", authorization: []string{"BEARER " + goodToken}, want: codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, client := serveUsers(t, grpc.UnaryInterceptor(Auth(verify)))
			_, err := client.GetUser(callCtx(t, tc.authorization...), &userv1.GetUserRequest{Id: "u1"})
			require.Equal(t, tc.want, status.Code(err), "GetUser(authorization %q): code = %v, want %v "+
				"(exactly one header; the scheme is case-insensitive, RFC 7235; no user id means no identity)",
				tc.authorization, status.Code(err), tc.want)
			if tc.want != codes.OK {
				require.Zero(t, users.calls.Load(), "GetUser(authorization %q) reached the handler; reject it before", tc.authorization)
				return
			}
			require.Equal(t, "u42", users.lastUserID.Load(), "the handler's UserID(ctx); want the id the verifier returned, stored with withUserID")
		})
	}
}

// TestInterceptorChainOrder checks the consequences of the order Chain picks.
func TestInterceptorChainOrder(t *testing.T) {
	logs := newLogRecorder()
	// escaped turns a panic that got out of Chain into a test failure rather than a crashed test binary.
	escaped := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				resp, err = nil, status.Errorf(codes.DataLoss, "panic escaped Chain: %v", p)
			}
		}()
		return handler(ctx, req)
	}
	users, client := serveUsers(t, grpc.UnaryInterceptor(escaped), Chain(slog.New(logs), verify))
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
	require.Equal(t, codes.Internal, status.Code(err), "GetUser(verifier panics) through Chain: code = %v (%s), want Internal; Recovery must wrap Auth too",
		status.Code(err), status.Convert(err).Message())

	want := []string{codes.OK.String(), codes.Unauthenticated.String(), codes.Internal.String(), codes.Internal.String()}
	require.Equal(t, want, logs.codes(getUser),
		"logged codes through Chain; Logging must be outermost so that it records the final code of every call, "+
			"including Auth's rejections and the Internal that Recovery makes of a panic")
}

func TestInterceptorAuthLetsProbesIn(t *testing.T) {
	// Kubernetes' gRPC probe, Consul's gRPC check and grpc-health-probe send no token. If Auth guards
	// the health service, every probe gets Unauthenticated, and the orchestrator kills a healthy pod.
	users := &fakeUsers{}
	hs := health.NewServer()
	conn := grpctest.Serve(t, func(s *grpc.Server) {
		userv1.RegisterUserServiceServer(s, users)
		healthpb.RegisterHealthServer(s, hs)
		reflection.Register(s)
	}, []grpc.ServerOption{grpc.UnaryInterceptor(Auth(verify))})

	resp, err := healthpb.NewHealthClient(conn).Check(callCtx(t), &healthpb.HealthCheckRequest{})
	require.NoError(t, err, "Health.Check with no token: code = %v, want SERVING; the health service must answer probes, "+
		"which carry no token", status.Code(err))
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus(), "Health.Check with no token: status = %v, want SERVING", resp.GetStatus())

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(callCtx(t))
	require.NoError(t, err, "opening server reflection with no token failed; grpcurl list/describe need it")
	require.NoError(t, stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}))
	_, err = stream.Recv()
	require.NoError(t, err, "server reflection with no token: code = %v, want the list of services", status.Code(err))

	_, err = userv1.NewUserServiceClient(conn).GetUser(callCtx(t), &userv1.GetUserRequest{Id: "u1"})
	require.Equal(t, codes.Unauthenticated, status.Code(err),
		"GetUser with no token next to a public health service: code = %v, want Unauthenticated; only health and reflection are public", status.Code(err))
	require.Zero(t, users.calls.Load(), "an unauthenticated GetUser reached the handler")

	// A business service may be called Health too; only the standard grpc.health.v1.Health is public.
	var adminCalls atomic.Int64
	adminConn := grpctest.Serve(t, func(s *grpc.Server) { registerAdminHealth(s, &adminCalls) },
		[]grpc.ServerOption{grpc.UnaryInterceptor(Auth(verify))})
	err = adminConn.Invoke(callCtx(t), adminHealthCheck, &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	require.Equal(t, codes.Unauthenticated, status.Code(err),
		"%s with no token: code = %v, want Unauthenticated; make public only the exact services grpc.health.v1.Health and "+
			"grpc.reflection.*, not every method whose name looks like a health check", adminHealthCheck, status.Code(err))
	require.Zero(t, adminCalls.Load(), "an unauthenticated call to %s reached the handler", adminHealthCheck)
}

// adminHealthCheck is a method of a business service that happens to be named Health.
const adminHealthCheck = "/shop.admin.v1.Health/Check"

// registerAdminHealth registers shop.admin.v1.Health, whose Check counts its calls. It reuses the
// health messages so that it needs no generated code.
func registerAdminHealth(s *grpc.Server, calls *atomic.Int64) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "shop.admin.v1.Health",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Check",
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				in := new(healthpb.HealthCheckRequest)
				if err := dec(in); err != nil {
					return nil, err
				}
				handler := func(context.Context, any) (any, error) {
					calls.Add(1)
					return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
				}
				if icpt == nil {
					return handler(ctx, in)
				}
				return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: adminHealthCheck}, handler)
			},
		}},
	}, struct{}{})
}
