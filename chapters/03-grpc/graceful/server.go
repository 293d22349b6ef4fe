// Package graceful runs a gRPC server that reports its health through the standard health service
// (grpc.health.v1.Health) and drains before it stops, so that a restart or a scale-down fails no call.
package graceful

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Server is a gRPC server with a health service. Register services on it (it is a
// grpc.ServiceRegistrar) before Serve.
type Server struct {
	grpc       *grpc.Server
	health     *healthServer
	drainDelay time.Duration
}

// New returns a Server built with opts. drainDelay is how long Drain keeps serving after it starts
// reporting NOT_SERVING, so that load balancers and health watchers notice before calls are refused.
func New(drainDelay time.Duration, opts ...grpc.ServerOption) *Server {
	s := &Server{grpc: grpc.NewServer(opts...), health: newHealthServer(drainDelay), drainDelay: drainDelay}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

// healthServer is grpc-go's health.Server with one fix for draining. A Watch stream (client-side
// health checking, Envoy, grpcurl ... Health/Watch) is a call that never ends on its own, so
// GracefulStop would wait for it until the drain's ctx runs out, and then Stop would cut off the
// very calls the drain was protecting. Shutdown reports NOT_SERVING at once, as health.Server's
// does (watchers are told), and ends every Watch stream drainDelay later, once they had time to hear it.
type healthServer struct {
	*health.Server
	delay  time.Duration
	ending context.Context // done once Watch streams must end
	end    context.CancelFunc
}

func newHealthServer(delay time.Duration) *healthServer {
	ending, end := context.WithCancel(context.Background())
	return &healthServer{Server: health.NewServer(), delay: delay, ending: ending, end: end}
}

// Shutdown sets every status to NOT_SERVING for good, and ends Watch streams after the delay.
func (h *healthServer) Shutdown() {
	h.Server.Shutdown()
	time.AfterFunc(h.delay, h.end)
}

// Watch is health.Server's Watch on a stream whose ctx also ends when Watch streams must end.
func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.ending, cancel)()
	err := h.Server.Watch(req, watchStream{Health_WatchServer: stream, ctx: ctx})
	if h.ending.Err() != nil {
		return status.Error(codes.Unavailable, "the server is shutting down")
	}
	return err
}

// watchStream is a Watch stream with another ctx.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }

// RegisterService registers a service implementation; generated Register*Server functions call it.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(desc, impl)
}

// GetServiceInfo lists the registered services. With RegisterService it makes Server a
// reflection.GRPCServer, so reflection.Register(s) works on it (grpcurl list and describe).
func (s *Server) GetServiceInfo() map[string]grpc.ServiceInfo { return s.grpc.GetServiceInfo() }

// Serve marks the server SERVING and serves on lis until Drain or Stop. It returns nil after those.
func (s *Server) Serve(lis net.Listener) error {
	s.markServing()
	return s.grpc.Serve(lis)
}

// Stop closes every connection and ends every call at once. Prefer Drain.
func (s *Server) Stop() { s.grpc.Stop() }
