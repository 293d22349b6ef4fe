// Package middleware holds the gateway's cross-cutting steps. Each one does one job; the order they run
// in is decided in one place, gateway.Chain.
package middleware

import (
	"crypto/rand"
	"regexp"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request id to backends and back to the client.
const HeaderRequestID = "X-Request-Id"

type requestIDKey struct{}

// validRequestID bounds what we accept from a client: an id ends up in logs, so no newlines or megabytes.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID keeps a sane incoming X-Request-Id or makes a new one, and puts it on the request (so backends
// get it), on the response, and in the context for the log lines.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID.MatchString(id) {
			id = rand.Text()
		}
		c.Set(requestIDKey{}, id)
		c.Request.Header.Set(HeaderRequestID, id)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// RequestIDFrom returns the id RequestID assigned, or "" if it did not run.
func RequestIDFrom(c *gin.Context) string {
	id, _ := c.Get(requestIDKey{})
	s, _ := id.(string)
	return s
}
