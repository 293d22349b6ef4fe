package server

import "context"

// userCallContext returns the context for one call from this server to the user service.
//
// Its contract:
//   - the call ends no later than the caller's deadline (our own handler's ctx), because nobody
//     is waiting for an answer after that;
//   - the call ends no later than s.userTimeout from now, even when the caller set no deadline,
//     so one slow dependency cannot hold this server's goroutines forever;
//   - when the caller cancels, the call is cancelled too, and the user service sees it.
func (s *OrderServer) userCallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	// A child of the handler's ctx inherits its deadline and its cancellation; WithTimeout can only
	// shorten a deadline, never extend it, so the result is min(caller's deadline, now+userTimeout).
	// gRPC then sends the remaining time as the grpc-timeout header, and the user service's handler
	// gets a ctx with that deadline: this is how a deadline crosses every hop of a call chain.
	// When our caller hangs up, gRPC cancels our handler's ctx, which cancels this child, which
	// sends RST_STREAM to the user service, whose ctx is then done too.
	return context.WithTimeout(ctx, s.userTimeout)
}
