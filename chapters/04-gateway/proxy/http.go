// Package proxy forwards gateway routes to backends: over HTTP with a reverse proxy, and over gRPC.
package proxy

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// HTTP forwards every request to target, with prefix cut from the path (/api/users/7 -> /users/7 for
// prefix "/api"). The request's headers go along, the gateway's identity and request id included.
// A backend that cannot be reached gives 502; a request whose deadline (ctx) passed gives 504.
func HTTP(target *url.URL, prefix string) gin.HandlerFunc {
	// TODO(04-routes): build one httputil.ReverseProxy here with a Rewrite function (SetURL, cut the prefix,
	// SetXForwarded) and an ErrorHandler that answers 504 for context.DeadlineExceeded and 502 otherwise;
	// the returned handler calls its ServeHTTP(c.Writer, c.Request).
	// Before Rewrite runs, the proxy removes hop-by-hop headers from pr.Out, and a client can name any
	// header as hop-by-hop (Connection: X-User-Id). So in Rewrite, re-apply the gateway's own X-User-Id,
	// X-User-Roles and X-Request-Id from pr.In.Header to pr.Out.Header.
	return func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotImplemented, gin.H{"error": "TODO(04-routes): HTTP proxy is not implemented"})
	}
}
