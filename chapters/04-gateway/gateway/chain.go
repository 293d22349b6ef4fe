package gateway

import (
	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
)

// Chain returns the gateway's middleware in the order they run: the first is the outermost, it sees the
// request first and the response last. This list is the one place where the order is decided.
func Chain(cfg Config) []gin.HandlerFunc {
	// TODO(04-chain): implement middleware.Recover, then put these steps in the right order.
	// For each step ask what it must see: the request id? the final status (after a panic too, in a
	// handler or in a middleware)? the caller's identity? And what must the timeout cover: only backend
	// time, or also the gateway's own work before it?
	// What the tests cannot see: Log and Metrics may swap, and RequestID may follow Metrics (Metrics
	// ignores the id). Whether IPLimiter sits just inside or just outside Recover makes no visible
	// difference (it does not panic). Timeout is only checked to start after Log; the steps between Log
	// and the route take no measurable time here, so no test can tell where among them Timeout sits. Put
	// it where the lesson's argument says, not just where the tests pass.
	return []gin.HandlerFunc{
		middleware.RequestID(),
		middleware.Recover(cfg.Logger),
		middleware.Log(cfg.Logger),
		cfg.Metrics.Handler(),
		cfg.Limiter.Handler(),
		auth.Authenticate(cfg.Verifier),
		cfg.IPLimiter.Handler(),
		middleware.Timeout(cfg.Timeout),
	}
}
