package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/02-layers/app"
)

func (h *handlers) createUser(c *gin.Context) {
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	u, err := h.svc.CreateUser(c.Request.Context(), req.Name, req.Email)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, userJSON{ID: u.ID, Name: u.Name, Email: u.Email})
}

func (h *handlers) getUser(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	u, err := h.svc.GetUser(c.Request.Context(), id)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, userJSON{ID: u.ID, Name: u.Name, Email: u.Email})
}

func (h *handlers) createProduct(c *gin.Context) {
	var req createProductRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.svc.CreateProduct(c.Request.Context(), req.Name, req.PriceCents, req.Stock)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, productJSON{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents, Stock: p.Stock})
}

func (h *handlers) getProduct(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	p, err := h.svc.GetProduct(c.Request.Context(), id)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, productJSON{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents, Stock: p.Stock})
}

func (h *handlers) placeOrder(c *gin.Context) {
	key := c.GetHeader(IdempotencyKeyHeader)
	if len(key) > 64 {
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{
			Error: "invalid request", Fields: map[string]string{IdempotencyKeyHeader: "at most 64 characters"},
		})
		return
	}
	var req createOrderRequest
	if !bindJSON(c, &req) {
		return
	}
	items := make([]app.Item, 0, len(req.Items))
	for _, it := range req.Items {
		items = append(items, app.Item{ProductID: it.ProductID, Quantity: it.Quantity})
	}
	o, created, err := h.svc.PlaceOrder(c.Request.Context(), req.UserID, items, key)
	if err != nil {
		h.writeError(c, err)
		return
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	c.JSON(status, toJSON(o))
}

func (h *handlers) getOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	o, err := h.svc.GetOrder(c.Request.Context(), id)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(o))
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
	pid, err := h.svc.PayOrder(c.Request.Context(), id, req.AmountCents)
	if err != nil {
		h.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": pid, "order_id": id, "amount_cents": req.AmountCents})
}

func (h *handlers) cancelOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	if err := h.svc.CancelOrder(c.Request.Context(), id); err != nil {
		h.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
