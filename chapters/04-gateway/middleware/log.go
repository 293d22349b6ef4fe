package middleware

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
)

// Log writes one line per request after it finished: what was asked, by whom, and what it got.
// It reads the status after c.Next(), so it must run outside every step that can decide the status,
// the recovery from a panic included.
func Log(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		id, _ := auth.IdentityFrom(c)
		attrs := []any{
			"request_id", RequestIDFrom(c),
			"method", c.Request.Method,
			"route", route(c),
			"path", c.Request.URL.Path,
			"status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds(),
			"user_id", id.UserID,
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, "error", c.Errors.String())
		}
		log.InfoContext(c.Request.Context(), "request", attrs...)
	}
}

// route is the route template (/api/orders/:id), never the raw path: raw paths make unbounded label sets.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
