package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// statusOf maps the domain's error vocabulary to HTTP, in one place.
func statusOf(err error) int {
	// TODO(02-architecture): the transport must not know the database driver. A taken email reaches
	// this layer as a raw *mysql.MySQLError because the adapter does not translate it. Make the adapter
	// (adapters/mysqlstore/users.go) return domain.ErrConflict and delete this case and the import.
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 {
		return http.StatusConflict
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, domain.ErrConflict):
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

// writeError answers with statusOf(err).
func (h *handlers) writeError(c *gin.Context, err error) {
	// TODO(02-architecture): two defects that real clients found.
	//   - The body carries err.Error(), the whole internal chain. Answer with publicMessage(err) for
	//     every status: no internal error text may reach a client.
	//   - A 500 is never logged: c.Error only attaches err to the gin context, and nothing here reads
	//     it. Log it with h.log (method, route, status and the error) so that someone can find out why.
	status := statusOf(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		_ = c.Error(err)
		msg = "internal error"
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}
