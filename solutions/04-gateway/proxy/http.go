// Package proxy forwards gateway routes to backends: over HTTP with a reverse proxy, and over gRPC.
package proxy

import (
	"context"
	"errors"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
)

// gatewayHeaders are set by the gateway itself (auth, request id) and must reach the backend as set.
var gatewayHeaders = []string{auth.HeaderUserID, auth.HeaderUserRoles, "X-Request-Id"}

// HTTP forwards every request to target, with prefix cut from the path (/api/users/7 -> /users/7 for
// prefix "/api"). The request's headers go along, the gateway's identity and request id included.
// A backend that cannot be reached gives 502; a request whose deadline (ctx) passed gives 504.
func HTTP(target *url.URL, prefix string) gin.HandlerFunc {
	// One ReverseProxy per route, built once: it shares the default transport's connection pool, so
	// backends see kept-alive connections instead of a new TCP handshake per request.
	rp := &httputil.ReverseProxy{
		// Rewrite, not the older Director: it runs after the proxy removed hop-by-hop headers from the
		// outgoing request, so what we set here survives, and client-sent X-Forwarded-* are already gone
		// when SetXForwarded adds ours.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, prefix)
			pr.Out.URL.RawPath = ""
			pr.SetXForwarded()
			// A client can name any header in "Connection: X-User-Id", and the proxy then drops it as
			// hop-by-hop: the identity the gateway set would vanish, and a backend that falls back to
			// "anonymous" or to a default user is now confused. The gateway's own headers are not the
			// client's to remove, so copy them again from the incoming request, which the proxy left intact.
			for _, h := range gatewayHeaders {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					pr.Out.Header[h] = v
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			if errors.Is(err, context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
			// The client gets only the status; the reason goes to our log, with the request id.
			middleware.LoggerFrom(r.Context()).WarnContext(r.Context(), "backend error", "error", err, "status", status)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"` + http.StatusText(status) + `"}`))
		},
		ErrorLog: log.New(gin.DefaultErrorWriter, "proxy: ", 0),
	}
	return func(c *gin.Context) {
		rp.ServeHTTP(c.Writer, c.Request)
	}
}
