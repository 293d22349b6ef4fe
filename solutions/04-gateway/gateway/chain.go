package gateway

import (
	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
)

// Chain returns the gateway's middleware in the order they run: the first is the outermost, it sees the
// request first and the response last. This list is the one place where the order is decided.
func Chain(cfg Config) []gin.HandlerFunc {
	return []gin.HandlerFunc{
		// 1. Request id first: every later step, and every log line, can name the request.
		middleware.RequestID(),
		// 2-3. Log and metrics next, *outside* Recover. They read the final status after c.Next() returns;
		// a panic unwinding past them would skip that code, and the 500 would be neither logged nor
		// counted: the worst requests would be invisible. (Diagrams often draw recover before log; that
		// only works if log and metrics recover and re-panic themselves.)
		middleware.Log(cfg.Logger),
		cfg.Metrics.Handler(),
		// 4. Recover wraps everything that runs our code or the handlers', and turns a panic into a 500
		// that unwinds normally through metrics and log above.
		middleware.Recover(cfg.Logger),
		// 5. A coarse limit per client IP before authentication. Unauthenticated requests never reach the
		// per-user limiter (they stop at 401), so without this a flood of garbage tokens is never limited,
		// and each one costs an RSA verification. Its rate is generous: one office NAT is many users.
		cfg.IPLimiter.Handler(),
		// 6. Authenticate: 401s are still logged and counted (they are an attack signal), and everything
		// below knows who is calling.
		auth.Authenticate(cfg.Verifier),
		// 7. The fair-share limit after auth, so buckets are per user, not per IP, and before any backend
		// is touched.
		cfg.Limiter.Handler(),
		// 8. Timeout last: the deadline covers backend work only, not time spent being rejected above.
		middleware.Timeout(cfg.Timeout),
	}
}
