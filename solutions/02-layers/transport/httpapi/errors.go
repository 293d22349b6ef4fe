package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
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

// writeError answers with statusOf(err); a 500 hides its cause from the client and logs it.
func writeError(c *gin.Context, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		_ = c.Error(err)
		msg = "internal error"
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}
