// Package interceptor holds the unary server interceptors every shop service runs, and the one
// place that decides their order.
//
// An interceptor wraps the handler like an onion: the first one in the chain runs first on the way
// in and last on the way out, so it sees the final result of everything inside it.
package interceptor

import (
	"log/slog"

	"google.golang.org/grpc"
)

// Chain returns the server option that installs Logging, Recovery and Auth in the shop's order.
//
// The order is part of the contract, and the tests check its consequences:
//   - a panic anywhere (in a handler or in Auth itself) becomes codes.Internal and the server lives on;
//   - every call is logged with the code its client finally received, including the Internal from a
//     recovered panic and the Unauthenticated from Auth;
//   - a call without a valid token never reaches the handler.
func Chain(logger *slog.Logger, verify Verifier) grpc.ServerOption {
	// TODO(03-interceptors): return grpc.ChainUnaryInterceptor(...) with Logging, Recovery and Auth
	// in the order that gives the guarantees above.
	return grpc.ChainUnaryInterceptor(todo("TODO(03-interceptors): Chain does not install the interceptors yet"))
}
