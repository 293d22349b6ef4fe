// Package gateway assembles the API gateway: one middleware chain (chain.go) in front of routes to
// the users service (HTTP), the orders service (gRPC), and an aggregate of both.
package gateway

import (
	"log/slog"
	"net/http"
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
	IPLimiter     *middleware.RateLimiter // per client IP, before authentication: bounds floods of unauthenticated requests
	Limiter       *middleware.RateLimiter // per user, after authentication: each caller's fair share
	Timeout       time.Duration           // per request, for everything behind the chain
	SummaryBudget time.Duration           // for /api/me/summary, within Timeout

	UsersURL *url.URL                 // the users service, over HTTP
	Orders   grpc.ClientConnInterface // the orders service, over gRPC
}

// New returns the gateway's HTTP handler.
func New(cfg Config) *gin.Engine {
	r := gin.New()
	// The client IP is the TCP peer's. Gin trusts every proxy by default, so c.ClientIP() would read a
	// client-sent X-Forwarded-For and a flood could pick a fresh "IP" per request to dodge the per-IP
	// limit. Behind a load balancer, list its addresses here instead of nil.
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always a valid list
	}
	r.Use(Chain(cfg)...)

	orders := proxy.NewOrdersClient(cfg.Orders)
	api := r.Group("/api")
	api.Any("/users/*rest", proxy.HTTP(cfg.UsersURL, "/api"))
	api.GET("/orders/:id", proxy.GetOrder(orders))
	profiles := &profilesOverHTTP{base: cfg.UsersURL, client: http.Client{Transport: pooledTransport()}}
	api.GET("/me/summary", aggregate.Handler(profiles, &ordersOverGRPC{client: orders}, cfg.SummaryBudget))
	// Authorisation is per route, after authentication: the chain knows who you are, the route decides
	// what you may do.
	api.Any("/admin/*rest", auth.RequireRole("admin"), proxy.HTTP(cfg.UsersURL, "/api"))
	return r
}
