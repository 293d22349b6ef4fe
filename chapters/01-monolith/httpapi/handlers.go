package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// IdempotencyKeyHeader names the request header that makes POST /orders safe to retry.
const IdempotencyKeyHeader = "Idempotency-Key"

const maxIdempotencyKey = 64

// errorBody is every error response: a message, and for 400s the offending fields by JSON path.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

type handlers struct {
	store *shop.Store
}

// pathID parses the :id path parameter; a bad one is answered with 400 and false.
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

func (h *handlers) createUser(c *gin.Context) {
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	u, err := h.store.CreateUser(c.Request.Context(), req.Name, req.Email)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

func (h *handlers) getUser(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	u, err := h.store.GetUser(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (h *handlers) createProduct(c *gin.Context) {
	var req createProductRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.store.CreateProduct(c.Request.Context(), req.Name, req.PriceCents, req.Stock)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, p)
}

func (h *handlers) getProduct(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	p, err := h.store.GetProduct(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// placeOrder answers 201 for a new order and 200 for a replay of an earlier Idempotency-Key.
func (h *handlers) placeOrder(c *gin.Context) {
	key := c.GetHeader(IdempotencyKeyHeader)
	if len(key) > maxIdempotencyKey {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{
			Error: "invalid request", Fields: map[string]string{IdempotencyKeyHeader: "at most 64 characters"},
		})
		return
	}
	var req createOrderRequest
	if !bindJSON(c, &req) {
		return
	}
	in := shop.NewOrder{UserID: req.UserID, IdempotencyKey: key}
	for _, it := range req.Items {
		in.Items = append(in.Items, shop.Item{ProductID: it.ProductID, Quantity: it.Quantity})
	}
	o, replayed, err := h.store.PlaceOrder(c.Request.Context(), in)
	if err != nil {
		writeError(c, err)
		return
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	c.JSON(status, o)
}

func (h *handlers) getOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	o, err := h.store.GetOrder(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, o)
}

func (h *handlers) payOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var req payRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.store.PayOrder(c.Request.Context(), id, req.AmountCents)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, p)
}
