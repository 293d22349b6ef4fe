package gateway

import (
	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
)

// Chain returns the gateway's middleware in the order they run: the first is the outermost, it sees the
// request first and the response last. This list is the one place where the order is decided.
func Chain(cfg Config) []gin.HandlerFunc {
	// TODO(04-chain): implement middleware.Recover, then put these steps in the order the tests demand.
	// For each step ask what it must see: the request id? the final status (after a panic too)? the
	// caller's identity? And what must it protect: only backend time, or everything after it?
	return []gin.HandlerFunc{
		middleware.RequestID(),
		middleware.Recover(cfg.Logger),
		middleware.Log(cfg.Logger),
		cfg.Metrics.Handler(),
		cfg.Limiter.Handler(),
		auth.Authenticate(cfg.Verifier),
		middleware.Timeout(cfg.Timeout),
	}
}
