package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// Recover turns a panic in any later step into a 500 response, logs the panic with its request id
// and a stack trace, and keeps the process serving.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			// http.ErrAbortHandler is how a handler (httputil.ReverseProxy included) asks net/http to cut
			// the connection mid-response. Turning it into a 500 would hide that, so hand it back.
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			log.ErrorContext(c.Request.Context(), "panic",
				"request_id", RequestIDFrom(c),
				"panic", p,
				"stack", string(debug.Stack()))
			// Abort stops the handlers after us; the middleware outside us (log, metrics) still finish
			// normally and see this 500. If the handler had already written, the status cannot change,
			// and gin logs that; the client sees a truncated response.
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		}()
		c.Next()
	}
}
