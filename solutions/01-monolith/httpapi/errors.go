package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// statusOf maps an error from the store to an HTTP status. It is the only place that does: handlers
// never pick an error status themselves, so a new error kind is one line here, not a hunt through
// every handler. errors.Is (not ==) because the store wraps its errors with context.
func statusOf(err error) int {
	switch {
	case errors.Is(err, shop.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, shop.ErrConflict): // ErrOutOfStock wraps ErrConflict
		return http.StatusConflict
	case errors.Is(err, shop.ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with statusOf(err) and an errorBody. A 4xx message is about the client's own
// request and safe to show; a 500 could carry SQL or addresses, so the client gets a fixed message
// and the real error goes to the logs through c.Error.
func writeError(c *gin.Context, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		_ = c.Error(err)
		msg = "internal error"
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}
