package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
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
