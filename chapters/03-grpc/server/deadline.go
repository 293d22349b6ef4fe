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
	// TODO(03-deadline): derive the call's context from ctx, bounded by s.userTimeout.
	// context.Background() drops the caller's deadline and cancellation on the floor.
	return context.Background(), func() {}
}
