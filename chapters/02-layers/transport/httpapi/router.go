// Package httpapi is the thin HTTP transport of the shop: each handler parses the request, calls one
// use case of app.Service, and writes the answer. No rule and no storage lives here.
package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

// IdempotencyKeyHeader names the request header that makes POST /orders safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

// errorBody is every error response: a message, and for 400s the offending fields by JSON path.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// New returns the HTTP handler over svc. The JSON shapes are chapter 01's, so its acceptance suite
// runs unchanged. log receives every request that failed with a 500 (nil: slog.Default()).
func New(svc *app.Service, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handlers{svc: svc, log: log}
	r := gin.New()
	r.Use(gin.Recovery(), limitBody(maxBodyBytes))
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.POST("/users", h.createUser)
	r.GET("/users/:id", h.getUser)
	r.POST("/products", h.createProduct)
	r.GET("/products/:id", h.getProduct)
	r.POST("/orders", h.placeOrder)
	r.GET("/orders/:id", h.getOrder)
	r.POST("/orders/:id/payments", h.payOrder)
	r.POST("/orders/:id/cancel", h.cancelOrder)
	return r
}

// maxBodyBytes bounds a request body. Every body of this API is a few hundred bytes; without a bound,
// one client sending gigabytes makes the server read them all into memory.
const maxBodyBytes = 1 << 20

// limitBody makes reading more than n bytes of a body fail (bindJSON answers 413) instead of going on.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

type handlers struct {
	svc *app.Service
	log *slog.Logger
}

func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{
			Error: "invalid request", Fields: map[string]string{"id": "must be a positive integer"},
		})
		return 0, false
	}
	return id, true
}

// orderJSON is the wire shape of an order; the aggregate itself has no JSON tags to leak.
type orderJSON struct {
	ID         int64        `json:"id"`
	UserID     int64        `json:"user_id"`
	Status     order.Status `json:"status"`
	TotalCents int64        `json:"total_cents"`
	Items      []order.Line `json:"items"`
}

func toJSON(o *order.Order) orderJSON {
	return orderJSON{ID: o.ID(), UserID: o.UserID(), Status: o.Status(), TotalCents: o.TotalCents(), Items: o.Lines()}
}

type userJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type productJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int    `json:"stock"`
}
