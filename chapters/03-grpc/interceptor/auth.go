package interceptor

import (
	"context"

	"google.golang.org/grpc"
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
	// TODO(03-interceptors): read the authorization header from the incoming metadata, verify the
	// token, and call the handler with WithUserID(ctx, id); reject everything else with Unauthenticated.
	return todo("TODO(03-interceptors): Auth is not implemented")
}
