package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// statusOf maps an error from the store to an HTTP status. It is the only place that does.
func statusOf(err error) int {
	// TODO(01-http-api): map the shop's error vocabulary with errors.Is (the store wraps its errors):
	// shop.ErrNotFound -> 404, shop.ErrConflict (and so ErrOutOfStock) -> 409, shop.ErrInvalid -> 400,
	// shop.ErrKeyReused -> 422, anything else -> 500.
	return http.StatusInternalServerError
}

// writeError answers with statusOf(err) and an errorBody.
func writeError(c *gin.Context, err error) {
	// TODO(01-http-api): the client gets a fixed, short message for each kind of error ("not found",
	// "out of stock", ...), never err.Error(): the store's error is a chain of internal context
	// ("place order: product 7: 3 wanted: out of stock: conflict") with ids, SQL and addresses in it.
	// A 500 answers "internal error", and the real error goes to the logs: record it with c.Error(err),
	// which the router's logErrors middleware logs after the request.
	c.AbortWithStatusJSON(statusOf(err), errorBody{Error: "TODO(01-http-api): map errors to status codes: " + err.Error()})
}
