package interceptor

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Verifier checks a bearer token and returns the id of the user it was issued to.
// It returns an error for a token that is unknown, expired or forged.
type Verifier func(ctx context.Context, token string) (userID string, err error)

// Auth admits only calls whose metadata carries "authorization: Bearer <token>" with a token that
// verify accepts, and puts the token's user id into the handler's ctx (read it with UserID).
//
// Every rejection is codes.Unauthenticated: no metadata, no authorization header, two of them,
// another scheme, an empty token, a token verify rejects, or an empty user id from verify.
// The scheme is case-insensitive ("bearer" and "BEARER" are "Bearer", RFC 7235); the token is not.
// A rejected call never reaches the handler.
// (PermissionDenied is for "we know who you are, and you may not": the handler's job, see server.)
//
// The health service (grpc.health.v1.Health) and server reflection are public: Kubernetes, Consul
// and grpc-health-probe carry no token, and a probe that gets Unauthenticated marks the pod dead.
func Auth(verify Verifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if isPublic(info.FullMethod) {
			return handler(ctx, req)
		}
		token, ok := bearerToken(ctx)
		if !ok {
			return nil, status.Error(codes.Unauthenticated, "missing bearer token")
		}
		userID, err := verify(ctx, token)
		// An empty id with a nil error is a verifier bug, and it must fail closed: a handler that
		// compares owners would otherwise see "" and might match an order whose owner is unset.
		if err != nil || userID == "" {
			// One answer for every bad token: telling "expired" from "forged" helps an attacker more
			// than a client. The reason belongs in the server's log, not in the response.
			return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
		}
		return handler(WithUserID(ctx, userID), req)
	}
}

// bearerToken returns the token of the call's single "authorization: Bearer <token>" header.
func bearerToken(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", false
	}
	// Metadata keys are lower-case in gRPC (HTTP/2 headers); md.Get lower-cases the key for us.
	values := md.Get("authorization")
	if len(values) != 1 { // none, or an ambiguous pair: refuse rather than guess which one counts
		return "", false
	}
	scheme, token, found := strings.Cut(values[0], " ")
	// The scheme is case-insensitive (RFC 7235); the token is not.
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// isPublic reports whether fullMethod belongs to a service that must answer without a token. The
// match is on the exact service name, so "/shop.user.v1.UserService/HealthCheck" stays guarded.
func isPublic(fullMethod string) bool {
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	switch service {
	case healthpb.Health_ServiceDesc.ServiceName, // probes: kubelet, Consul, grpc-health-probe
		"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection": // grpcurl list/describe
		return true
	}
	return false
}
