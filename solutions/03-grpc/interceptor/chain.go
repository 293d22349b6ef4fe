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
	// Outermost first. ChainUnaryInterceptor runs them in the order given, each wrapping the rest.
	return grpc.ChainUnaryInterceptor(
		// 1. Logging is outermost so that it sees every call's final code: the Internal that
		//    Recovery makes of a panic, and the Unauthenticated that Auth returns. Had it been
		//    inside Recovery, a panic would unwind straight past it and the call would go unlogged.
		Logging(logger),
		// 2. Recovery wraps Auth and the handler, so a panic in either (Auth parses untrusted
		//    input, after all) costs one call, not the process.
		Recovery(logger),
		// 3. Auth is innermost: nothing unauthenticated reaches the handler, and its rejections
		//    are still logged by (1).
		Auth(verify),
	)
}
