package interceptor

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		token, ok := bearerToken(ctx)
		if !ok {
			return nil, status.Error(codes.Unauthenticated, "missing bearer token")
		}
		userID, err := verify(ctx, token)
		if err != nil || userID == "" {
			// One answer for every bad token: telling "expired" from "forged" helps an attacker more
			// than a client. The reason belongs in the server's log, not in the response.
			return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
		}
		return handler(withUserID(ctx, userID), req)
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
