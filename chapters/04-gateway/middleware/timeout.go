package middleware

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeout gives the rest of the request a deadline. It does not write a response itself: a handler
// that races the clock to write 504 while the real handler may still write is a classic data race.
// Instead every backend call uses c.Request.Context(), fails with context.DeadlineExceeded when the
// budget is spent, and the handler turns that into 504. It runs last, so only backend time counts.
func Timeout(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
