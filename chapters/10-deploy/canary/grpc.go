package canary

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor puts the version tag of the call's ctx into the outgoing metadata (MetadataKey),
// next to the metadata already there; a tag already there (forwarded from upstream) is replaced by the
// ctx's. A ctx without a tag sends none.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		// TODO(10-canary): a ctx value does not cross the network; metadata does.
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// UnaryServerInterceptor reads the version tag from the incoming metadata into the handler's ctx
// (WithVersion), so that the handler's own calls carry it on.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		// TODO(10-canary): metadata.FromIncomingContext, then WithVersion.
		return handler(ctx, req)
	}
}

// Invoke sends a call to the instance of the version in ctx: Canary goes to b.Canary, anything else to
// b.Stable. When the canary instance is unavailable (codes.Unavailable) the call falls back to stable, and
// the request is downgraded to stable from here on (its ctx says Stable), so that the hops after this one
// and the Kafka record agree with the instance that really served it.
func (b Backends) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	// TODO(10-canary): choose the instance by FromContext(ctx); fall back to stable when the canary is down.
	return status.Error(codes.Unimplemented, "TODO(10-canary): Backends.Invoke does not route calls yet")
}
