package middleware

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
)

type loggerKey struct{}

// Log writes one line per request after it finished: what was asked, by whom, and what it got.
// It reads the status after c.Next(), so it must run outside every step that can decide the status,
// the recovery from a panic included.
//
// Before c.Next() it binds the request id to a logger and puts that logger in the request's context,
// so every line written while the request runs (LoggerFrom) names the request. It reads the id at
// that moment, which is why RequestID must run before Log.
func Log(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		reqLog := log.With("request_id", RequestIDFrom(c))
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), loggerKey{}, reqLog))
		c.Next()
		id, _ := auth.IdentityFrom(c)
		attrs := []any{
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
		reqLog.InfoContext(c.Request.Context(), "request", attrs...)
	}
}

// LoggerFrom returns the request's logger that Log put in ctx, or slog.Default() outside the chain.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// route is the route template (/api/orders/:id), never the raw path: raw paths make unbounded label sets.
func route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
