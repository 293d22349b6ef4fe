// Package graceful runs a gRPC server that reports its health through the standard health service
// (grpc.health.v1.Health) and drains before it stops, so that a restart or a scale-down fails no call.
package graceful

import (
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Server is a gRPC server with a health service. Register services on it (it is a
// grpc.ServiceRegistrar) before Serve.
type Server struct {
	grpc       *grpc.Server
	health     *health.Server
	drainDelay time.Duration
}

// New returns a Server built with opts. drainDelay is how long Drain keeps serving after it starts
// reporting NOT_SERVING, so that load balancers and health watchers notice before calls are refused.
func New(drainDelay time.Duration, opts ...grpc.ServerOption) *Server {
	s := &Server{grpc: grpc.NewServer(opts...), health: health.NewServer(), drainDelay: drainDelay}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s
}

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
