package canary

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// UnaryClientInterceptor puts the version tag of the call's ctx into the outgoing metadata (MetadataKey). A
// ctx value never crosses the network: only metadata does. It keeps the metadata already there (a request
// id, a trace context) and sets the one key it owns: metadata forwarded from upstream may already hold a
// tag, and a request that a fallback downgraded must arrive with the ctx's tag alone, not with both (the
// server reads the first). A ctx without a tag sends none.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if v := FromContext(ctx); v != "" {
			md, ok := metadata.FromOutgoingContext(ctx) // a copy: the caller's metadata stays as it was
			if !ok {
				md = metadata.MD{}
			}
			md.Set(MetadataKey, string(v))
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// UnaryServerInterceptor reads the version tag from the incoming metadata into the handler's ctx
// (WithVersion), so that the handler's own calls carry it on: incoming metadata is not outgoing metadata.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if vs := md.Get(MetadataKey); len(vs) > 0 {
				ctx = WithVersion(ctx, Version(vs[0]))
			}
		}
		return handler(ctx, req)
	}
}

// Invoke sends a call to the instance of the version in ctx: Canary goes to b.Canary, anything else to
// b.Stable. When the canary instance is unavailable (down, unreachable: codes.Unavailable) the call falls
// back to stable, and the request is downgraded to stable from here on (its ctx says Stable), so that the
// hops after this one, and the Kafka record, agree with the instance that really served it. Falling back
// is safe here because Unavailable from a dead connection means the request never reached a server.
func (b Backends) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if FromContext(ctx) == Canary && b.Canary != nil {
		err := b.Canary.Invoke(ctx, method, args, reply, opts...)
		if status.Code(err) != codes.Unavailable {
			return err
		}
		ctx = WithVersion(ctx, Stable)
	}
	return b.Stable.Invoke(ctx, method, args, reply, opts...)
}
