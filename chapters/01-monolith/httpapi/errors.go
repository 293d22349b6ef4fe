package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// statusOf maps an error from the store to an HTTP status. It is the only place that does.
func statusOf(err error) int {
	// TODO(01-http-api): map the shop's error vocabulary with errors.Is (the store wraps its errors):
	// shop.ErrNotFound -> 404, shop.ErrConflict (and so ErrOutOfStock) -> 409, shop.ErrInvalid -> 400,
	// anything else -> 500.
	return http.StatusInternalServerError
}

// writeError answers with statusOf(err) and an errorBody.
func writeError(c *gin.Context, err error) {
	// TODO(01-http-api): a 500 must not leak internals (SQL, addresses) to the client: answer a fixed
	// message such as "internal error" and keep the real error for the logs with c.Error(err).
	c.AbortWithStatusJSON(statusOf(err), errorBody{Error: "TODO(01-http-api): map errors to status codes: " + err.Error()})
}
