package graceful

import (
	"context"
	"errors"
)

// markServing reports SERVING for the whole server (the service name "") and for every service
// registered on it by its full name (like "shop.order.v1.OrderService"), so that a client can ask
// about exactly the service it calls.
func (s *Server) markServing() {
	// TODO(03-health): set SERVING on s.health for "" and for each service in s.grpc.GetServiceInfo().
}

// Drain stops the server without failing calls:
//  1. at once, every health status becomes NOT_SERVING, so load balancers stop sending new calls;
//  2. for drainDelay the server keeps serving, because they need time to notice;
//  3. then it stops accepting calls and waits for the calls in flight to finish;
//  4. if ctx ends first (during the delay or the wait), it stops at once, ending the calls still
//     running, and returns ctx's error.
//
// Drain returns nil when every call in flight finished.
func (s *Server) Drain(ctx context.Context) error {
	// TODO(03-health): report NOT_SERVING, wait drainDelay, then GracefulStop bounded by ctx (Stop when ctx ends).
	return errors.New("TODO(03-health): Drain is not implemented")
}
