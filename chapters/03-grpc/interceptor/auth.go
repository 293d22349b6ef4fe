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
// Every rejection is codes.Unauthenticated: no metadata, no authorization header, another scheme,
// an empty token, or a token verify rejects. A rejected call never reaches the handler.
// (PermissionDenied is for "we know who you are, and you may not": that is authorisation, chapter 04.)
func Auth(verify Verifier) grpc.UnaryServerInterceptor {
	// TODO(03-interceptors): read the authorization header from the incoming metadata, verify the
	// token, and call the handler with withUserID(ctx, id); reject everything else with Unauthenticated.
	return todo("TODO(03-interceptors): Auth is not implemented")
}

// userIDKey is the context key for the authenticated user id. An unexported type means no other
// package can read or overwrite the value by accident.
type userIDKey struct{}

func withUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, userIDKey{}, id)
}

// UserID returns the authenticated user's id that Auth stored in ctx.
func UserID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userIDKey{}).(string)
	return id, ok
}
