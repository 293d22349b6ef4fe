package interceptor

import (
	"context"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Recovery turns a panic in anything it wraps into a codes.Internal error for the client, and logs
// the panic value with its stack at Error. A call that does not panic passes through unchanged.
//
// Without it, one nil-pointer in one handler takes down the whole process and every call in flight.
func Recovery(logger *slog.Logger) grpc.UnaryServerInterceptor {
	// Named results let the deferred function replace what the call returns.
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				// The stack goes to our logs; the client gets a bare Internal, because a panic
				// message can contain anything, and the caller can act on none of it.
				logger.LogAttrs(ctx, slog.LevelError, "panic in rpc",
					slog.String("method", info.FullMethod),
					slog.Any("panic", p),
					slog.String("stack", string(debug.Stack())),
				)
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}
