// Package httpapi is the JSON API of the monolith, on Gin. Handlers parse, call the store and respond;
// binding errors become 400 with field errors (requests.go) and store errors get their status in one
// place (errors.go).
package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// New returns the HTTP handler of the shop.
func New(store *shop.Store) http.Handler {
	h := &handlers{store: store}
	r := gin.New()
	r.Use(gin.Recovery())
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
