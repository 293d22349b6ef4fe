// Package identity is a stand-in for the Auth interceptor in tests that are not about auth: the
// server and client tests use it so that they do not depend on the 03-interceptors exercise.
// Never use it outside tests: it believes whatever user id the client sends.
package identity

import (
	"context"

	"github.com/gomicrolab/microlab/chapters/03-grpc/interceptor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// key is the metadata key that As sets and Interceptor reads.
const key = "x-test-user"

// As returns ctx with outgoing metadata that makes Interceptor treat the call as userID's.
func As(ctx context.Context, userID string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, key, userID)
}

// Interceptor trusts the caller's x-test-user metadata and stores it with interceptor.WithUserID.
// A call without it reaches the handler with no identity.
func Interceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if ids := md.Get(key); len(ids) == 1 {
		ctx = interceptor.WithUserID(ctx, ids[0])
	}
	return handler(ctx, req)
}
