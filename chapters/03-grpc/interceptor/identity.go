package interceptor

import "context"

// userIDKey is the context key for the authenticated user id. An unexported type means no other
// package can read or overwrite the value by accident.
type userIDKey struct{}

// WithUserID returns a copy of ctx that carries the authenticated user's id. Auth calls it once a
// token checks out; a test (or another authenticator, mTLS say) may call it the same way.
func WithUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, userIDKey{}, id)
}

// UserID returns the authenticated user's id that Auth stored in ctx.
func UserID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userIDKey{}).(string)
	return id, ok && id != ""
}
