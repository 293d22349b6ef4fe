package interceptor

import (
	"log/slog"

	"google.golang.org/grpc"
)

// Recovery turns a panic in anything it wraps into a codes.Internal error for the client, and logs
// the panic value with its stack at Error. A call that does not panic passes through unchanged.
//
// Without it, one nil-pointer in one handler takes down the whole process and every call in flight.
func Recovery(logger *slog.Logger) grpc.UnaryServerInterceptor {
	// TODO(03-interceptors): run the handler under a deferred recover() and turn a panic into Internal.
	return todo("TODO(03-interceptors): Recovery is not implemented")
}
