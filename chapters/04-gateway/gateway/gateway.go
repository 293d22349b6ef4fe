// Package gateway assembles the API gateway: one middleware chain (chain.go) in front of routes to
// the users service (HTTP), the orders service (gRPC), and an aggregate of both.
package gateway

import (
	"log/slog"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/aggregate"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
	"github.com/gomicrolab/microlab/chapters/04-gateway/proxy"
	"google.golang.org/grpc"
)

// Config is everything the gateway needs, built by main (or a test).
type Config struct {
	Logger        *slog.Logger
	Metrics       *middleware.Metrics
	Verifier      *auth.Verifier
	Limiter       *middleware.RateLimiter
	Timeout       time.Duration // per request, for everything behind the chain
	SummaryBudget time.Duration // for /api/me/summary, within Timeout

	UsersURL *url.URL                 // the users service, over HTTP
	Orders   grpc.ClientConnInterface // the orders service, over gRPC
}

// New returns the gateway's HTTP handler.
func New(cfg Config) *gin.Engine {
	r := gin.New()
	r.Use(Chain(cfg)...)

	orders := proxy.NewOrdersClient(cfg.Orders)
	api := r.Group("/api")
	api.Any("/users/*rest", proxy.HTTP(cfg.UsersURL, "/api"))
	api.GET("/orders/:id", proxy.GetOrder(orders))
	api.GET("/me/summary", aggregate.Handler(&profilesOverHTTP{base: cfg.UsersURL}, &ordersOverGRPC{client: orders}, cfg.SummaryBudget))
	// Authorisation is per route, after authentication: the chain knows who you are, the route decides
	// what you may do.
	api.Any("/admin/*rest", auth.RequireRole("admin"), proxy.HTTP(cfg.UsersURL, "/api"))
	return r
}
