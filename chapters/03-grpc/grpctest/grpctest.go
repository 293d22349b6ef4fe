// Package grpctest starts gRPC servers inside a test, over an in-memory connection (bufconn),
// so chapter 03's tests need no port and no network.
package grpctest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// Target is the address to dial with the options Start returns.
const Target = "passthrough:///bufconn"

// Start starts a server built with opts, lets register add services to it, and returns the dial
// options that reach it (dial Target with them). The server stops at test cleanup.
func Start(t testing.TB, register func(*grpc.Server), opts []grpc.ServerOption) []grpc.DialOption {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	dialer := func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }
	return []grpc.DialOption{
		grpc.WithContextDialer(dialer),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
}

// Serve is Start plus a client connection to the server, closed at test cleanup.
// dialOpts are added to the client's options.
func Serve(t testing.TB, register func(*grpc.Server), opts []grpc.ServerOption, dialOpts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(Target, append(Start(t, register, opts), dialOpts...)...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%s) = %v, want a connection", Target, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
