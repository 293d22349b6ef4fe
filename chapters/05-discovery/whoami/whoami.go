// Package whoami is the tiny gRPC service that every instance in this chapter runs.
// It answers one question, "which instance are you?", so that tests can see where each call landed.
//
// It needs no protobuf code generation: the service is described by hand with grpc.ServiceDesc and its
// messages travel as JSON through a codec registered under the content subtype "json"
// (the wire content type becomes application/grpc+json). The standard gRPC health service runs next to it,
// because that is what Consul's gRPC check calls.
package whoami

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ServiceName and FullMethod name the service on the wire.
const (
	ServiceName = "whoami.Whoami"
	FullMethod  = "/" + ServiceName + "/Who"
)

// codecName is the content subtype that selects the JSON codec on both ends.
const codecName = "json"

// Request is the (empty) question.
type Request struct{}

// Reply names the instance that answered.
type Reply struct {
	ID string `json:"id"`
}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func (jsonCodec) Name() string                       { return codecName }

func init() { encoding.RegisterCodec(jsonCodec{}) }

type server struct{ id string }

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Who", Handler: whoHandler}},
	Metadata:    "whoami (hand-written, no .proto)",
}

func whoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	var req Request
	if err := dec(&req); err != nil {
		return nil, err
	}
	who := func(context.Context, any) (any, error) { return &Reply{ID: srv.(*server).id}, nil }
	if interceptor == nil {
		return who(ctx, &req)
	}
	return interceptor(ctx, &req, &grpc.UnaryServerInfo{Server: srv, FullMethod: FullMethod}, who)
}

// Register adds the whoami service (answering id) and the standard health service to s.
// The health service reports SERVING for the whole server ("") and for ServiceName;
// flip it with the returned server, e.g. to NOT_SERVING while draining.
func Register(s *grpc.Server, id string) *health.Server {
	s.RegisterService(&serviceDesc, &server{id: id})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return hs
}

// NewServer returns a gRPC server with whoami (answering id) and health registered.
func NewServer(id string) *grpc.Server {
	s := grpc.NewServer()
	Register(s, id)
	return s
}

// Who asks the instance behind conn for its id.
func Who(ctx context.Context, conn grpc.ClientConnInterface, opts ...grpc.CallOption) (string, error) {
	var reply Reply
	opts = append(opts, grpc.CallContentSubtype(codecName))
	if err := conn.Invoke(ctx, FullMethod, &Request{}, &reply, opts...); err != nil {
		return "", fmt.Errorf("whoami: %w", err)
	}
	return reply.ID, nil
}
