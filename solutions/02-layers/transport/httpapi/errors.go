package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// statusOf maps the domain's error vocabulary to HTTP, in one place. It knows nothing about MySQL:
// the adapter already turned a duplicate key into domain.ErrConflict, so this layer imports only the
// layers below it (app, domain) and never a driver.
func statusOf(err error) int {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, domain.ErrConflict): // out of stock, illegal transition, amount mismatch, taken email
		return http.StatusConflict
	case errors.Is(err, domain.ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// publicMessage is what a client may read about err: words chosen for clients, one per domain error.
// err.Error() is for the log. It is a chain of internal context ("place order: create order: product
// 12: ..."), and on other paths it carries SQL, table and column names, addresses and other
// customers' data (the driver quotes the duplicate email).
func publicMessage(err error) string {
	switch {
	case errors.Is(err, order.ErrIllegalTransition):
		return "the order's status does not allow this"
	case errors.Is(err, order.ErrAmountMismatch):
		return "the amount does not match the order's total"
	case errors.Is(err, product.ErrOutOfStock):
		return "out of stock"
	case errors.Is(err, user.ErrEmailTaken):
		return "email already registered"
	case errors.Is(err, domain.ErrNotFound):
		return "not found"
	case errors.Is(err, domain.ErrConflict):
		return "conflicts with the current state"
	case errors.Is(err, domain.ErrInvalid):
		return "invalid request"
	default:
		return "internal error"
	}
}

// writeError answers with statusOf(err) and a message written for clients. The error itself goes to
// the log, and only for a 500: a 4xx is the client's mistake and its answer says what it was, while
// a 500 is ours, and the log line is the only trace of its cause that anyone will see.
func (h *handlers) writeError(c *gin.Context, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "status", status, "error", err.Error())
	}
	c.AbortWithStatusJSON(status, errorBody{Error: publicMessage(err)})
}
