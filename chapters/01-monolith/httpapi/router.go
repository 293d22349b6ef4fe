// Package httpapi is the JSON API of the monolith, on Gin. Handlers parse, call the store and respond;
// binding errors become 400 with field errors (requests.go) and store errors get their status in one
// place (errors.go).
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// New returns the HTTP handler of the shop. Server errors are logged to log.
func New(store *shop.Store, log *slog.Logger) http.Handler {
	h := &handlers{store: store}
	r := gin.New()
	r.Use(logErrors(log), gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.POST("/users", h.createUser)
	r.GET("/users/:id", h.getUser)
	r.POST("/products", h.createProduct)
	r.GET("/products/:id", h.getProduct)
	r.POST("/orders", h.placeOrder)
	r.GET("/orders/:id", h.getOrder)
	r.POST("/orders/:id/payments", h.payOrder)
	return r
}

// logErrors logs the errors that handlers recorded with c.Error, after the request. The client sees a
// fixed message for a 500 (errors.go); the operator needs the real cause, so it goes here. Gin keeps
// c.Errors but never prints them by itself.
func logErrors(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			log.ErrorContext(c.Request.Context(), "request failed",
				"method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(), "err", e.Err)
		}
	}
}
