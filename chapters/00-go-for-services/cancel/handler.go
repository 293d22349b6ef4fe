package cancel

import (
	"context"
	"errors"
	"net/http"
)

// Handler serves GET /?key=K with the first replica's answer. The request's context carries the
// caller's deadline (a client timeout, or a gateway's), so First stops when the caller stops caring.
func Handler(replicas ...Replica) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		val, err := First(r.Context(), r.URL.Query().Get("key"), replicas)
		switch {
		case err == nil:
			_, _ = w.Write([]byte(val))
		case errors.Is(err, context.DeadlineExceeded):
			http.Error(w, "deadline exceeded", http.StatusGatewayTimeout)
		case errors.Is(err, context.Canceled):
			// The client went away; nobody reads this, but the status shows up in access logs.
			http.Error(w, "client closed request", 499)
		default:
			http.Error(w, "no replica answered", http.StatusBadGateway)
		}
	})
}
