package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// errorKinds is the shop's error vocabulary as the client sees it, most specific first (ErrOutOfStock
// wraps ErrConflict). It is the only place that picks an error status: handlers never do, so a new error
// kind is one line here, not a hunt through every handler.
var errorKinds = []struct {
	err    error
	status int
	msg    string
}{
	{shop.ErrNotFound, http.StatusNotFound, "not found"},
	{shop.ErrOutOfStock, http.StatusConflict, "out of stock"},
	{shop.ErrConflict, http.StatusConflict, "conflict"},
	{shop.ErrKeyReused, http.StatusUnprocessableEntity, "idempotency key already used for a different request"},
	{shop.ErrInvalid, http.StatusBadRequest, "invalid request"},
}

// statusOf maps an error from the store to an HTTP status. errors.Is (not ==) because the store wraps
// its errors with context.
func statusOf(err error) int {
	status, _ := classify(err)
	return status
}

func classify(err error) (int, string) {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.status, k.msg
		}
	}
	return http.StatusInternalServerError, "internal error"
}

// writeError answers with statusOf(err) and a fixed message for its kind. err.Error() is written for
// the operator: a chain of internal context (ids, SQL, addresses) that a client must never see, even
// on a 409. A 500 is the server's fault, so its real error goes to the logs through c.Error.
func writeError(c *gin.Context, err error) {
	status, msg := classify(err)
	if status == http.StatusInternalServerError {
		_ = c.Error(err)
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}
