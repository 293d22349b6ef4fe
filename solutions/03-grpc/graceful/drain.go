package graceful

import (
	"context"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// markServing reports SERVING for the whole server (the service name "") and for every service
// registered on it by its full name (like "shop.order.v1.OrderService"), so that a client can ask
// about exactly the service it calls.
func (s *Server) markServing() {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	// GetServiceInfo lists what was registered, the health service included; naming each one means
	// a probe for one service never has to trust the server-wide answer.
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
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
	// Shutdown sets every status to NOT_SERVING and ignores later SetServingStatus calls, so nothing
	// can flip the server back to SERVING halfway through its own shutdown. Watchers are told at once.
	s.health.Shutdown()

	// Keep answering while the news spreads: a load balancer polling every second may still send us
	// calls for that long, and refusing them would fail calls that a healthy replica could serve.
	// (In Kubernetes this is the preStop delay before the pod leaves the endpoints.)
	delay := time.NewTimer(s.drainDelay)
	defer delay.Stop()
	select {
	case <-delay.C:
	case <-ctx.Done():
		// Out of time before the delay ended (the pod's grace period is shorter than the delay, say):
		// the caller's deadline wins over ours. Stop now rather than wait out a delay nobody has.
		s.grpc.Stop()
		return ctx.Err()
	}

	// GracefulStop refuses new calls (GOAWAY) and waits for the running ones. It has no deadline of
	// its own, and a single stuck call or an open stream (a health Watch, say) would block it forever,
	// so it runs in a goroutine and ctx bounds the wait.
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		// Out of time: close everything. Stop also makes the pending GracefulStop return, so the
		// goroutine above ends and nothing leaks.
		s.grpc.Stop()
		<-stopped
		return ctx.Err()
	}
}
