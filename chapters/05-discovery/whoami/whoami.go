// Package whoami is the tiny gRPC service that every instance in this chapter runs.
// It answers one question, "which instance are you?", so that tests can see where each call landed.
//
// It needs no protobuf code generation: its messages are protobuf's well-known types (Who takes a
// google.protobuf.Empty and answers a google.protobuf.StringValue), the service is described by hand with
// grpc.ServiceDesc, and a hand-built file descriptor lets gRPC reflection describe it to grpcurl.
// The standard gRPC health service runs next to it, because that is what Consul's gRPC check calls.
package whoami

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName and FullMethod name the service on the wire.
const (
	ServiceName = "whoami.Whoami"
	FullMethod  = "/" + ServiceName + "/Who"
)

// protoFile is the name the service's descriptor is registered under, as if it came from whoami/whoami.proto:
//
//	syntax = "proto3";
//	package whoami;
//	service Whoami { rpc Who(google.protobuf.Empty) returns (google.protobuf.StringValue); }
const protoFile = "whoami/whoami.proto"

// init registers the descriptor above, which is what the reflection service sends to grpcurl.
func init() {
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(protoFile),
		Package:    proto.String("whoami"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/empty.proto", "google/protobuf/wrappers.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Whoami"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("Who"),
				InputType:  proto.String(".google.protobuf.Empty"),
				OutputType: proto.String(".google.protobuf.StringValue"),
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err == nil {
		err = protoregistry.GlobalFiles.RegisterFile(fd)
	}
	if err != nil {
		panic(fmt.Sprintf("whoami: register %s: %v", protoFile, err))
	}
}

type server struct{ id string }

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Who", Handler: whoHandler}},
	Metadata:    protoFile,
}

func whoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(emptypb.Empty)
	if err := dec(req); err != nil {
		return nil, err
	}
	who := func(context.Context, any) (any, error) { return wrapperspb.String(srv.(*server).id), nil }
	if interceptor == nil {
		return who(ctx, req)
	}
	return interceptor(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: FullMethod}, who)
}

// Register adds the whoami service (answering id), the standard health service and reflection to s.
// The health service reports SERVING for the whole server ("") and for ServiceName;
// flip it with the returned server, e.g. to NOT_SERVING while draining.
func Register(s *grpc.Server, id string) *health.Server {
	s.RegisterService(&serviceDesc, &server{id: id})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s) // grpcurl list / describe / call without a .proto file
	return hs
}

// NewServer returns a gRPC server with whoami (answering id), health and reflection registered.
func NewServer(id string) *grpc.Server {
	s := grpc.NewServer()
	Register(s, id)
	return s
}

// Who asks the instance behind conn for its id.
func Who(ctx context.Context, conn grpc.ClientConnInterface, opts ...grpc.CallOption) (string, error) {
	reply := new(wrapperspb.StringValue)
	if err := conn.Invoke(ctx, FullMethod, new(emptypb.Empty), reply, opts...); err != nil {
		return "", fmt.Errorf("whoami: %w", err)
	}
	return reply.GetValue(), nil
}
