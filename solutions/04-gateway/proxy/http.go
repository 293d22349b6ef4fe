// Package proxy forwards gateway routes to backends: over HTTP with a reverse proxy, and over gRPC.
package proxy

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
)

// gatewayHeaders are set by the gateway itself (auth, request id) and must reach the backend as set.
var gatewayHeaders = []string{auth.HeaderUserID, auth.HeaderUserRoles, "X-Request-Id"}

// transport is shared by every HTTP route: connection reuse is the transport's job, not the proxy's.
// http.DefaultTransport keeps only 2 idle connections per host (MaxIdleConnsPerHost defaults to
// DefaultMaxIdleConnsPerHost = 2). A gateway sends many concurrent requests to few hosts, so with the
// default every burst above 2 closes its connections afterwards and the next burst dials again: TIME_WAIT
// piles up and every request pays a handshake. Size the idle pool per host for the gateway's concurrency.
var transport = &http.Transport{
	Proxy:                 nil, // a gateway talks to its backends directly, never through HTTP_PROXY
	DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          1024,
	MaxIdleConnsPerHost:   256,
	IdleConnTimeout:       90 * time.Second,
	ResponseHeaderTimeout: 0, // the request's context (Timeout middleware) bounds the wait
	ExpectContinueTimeout: time.Second,
}

// HTTP forwards every request to target, with prefix cut from the path (/api/users/7 -> /users/7 for
// prefix "/api"). The request's headers go along, the gateway's identity and request id included.
// A backend that cannot be reached gives 502; a request whose deadline (ctx) passed gives 504.
func HTTP(target *url.URL, prefix string) gin.HandlerFunc {
	// One ReverseProxy per route, built once, on the shared transport.
	rp := &httputil.ReverseProxy{
		Transport: transport,
		// Rewrite, not the older Director: it runs after the proxy removed hop-by-hop headers from the
		// outgoing request, so what we set here survives, and client-sent X-Forwarded-* are already gone
		// when SetXForwarded adds ours.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target) // scheme and host; keeps the incoming query string as sent
			// The path as the client sent it, minus the prefix: RawPath keeps encodings such as %2F that
			// Path has decoded. (When RawPath does not match Path, URL.EscapedPath falls back to Path.)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, prefix)
			pr.Out.URL.RawPath = strings.TrimPrefix(pr.In.URL.RawPath, prefix)
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
			// The client gets only the status; the reason (it names the backend's address) goes to our
			// log, with the request id.
			middleware.LoggerFrom(r.Context()).WarnContext(r.Context(), "backend error", "error", err, "status", status)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"` + http.StatusText(status) + `"}`))
		},
		ErrorLog: log.New(gin.DefaultErrorWriter, "proxy: ", 0),
	}
	return func(c *gin.Context) {
		// The route (and RequireRole on it) was chosen on this path. If it has dot segments, a backend that
		// normalises paths serves another one: /api/users/%2e%2e/admin/stats is authorised as a users
		// route and served as /admin/stats. Forwarding only canonical paths keeps the two decisions equal.
		if !canonical(c.Request.URL.Path) {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "bad path"})
			return
		}
		rp.ServeHTTP(c.Writer, c.Request)
	}
}

// canonical reports whether the decoded path has no "." or ".." segment. Path is already decoded, so
// %2e%2e and ..%2f are caught as well as a raw "..". It reads segments the way the laxest backend might:
// a backslash separates them (IIS and other Windows servers read "..\" as "../"), and ";params" are
// ignored (Tomcat and Spring strip path parameters, so "..;" is ".." to them). A Go backend does
// neither, but the gateway does not know what stands behind it.
func canonical(p string) bool {
	for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
