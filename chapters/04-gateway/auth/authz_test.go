package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
)

func TestAuthzRoles(t *testing.T) {
	tests := []struct {
		name     string
		identity *Identity // nil: no authenticated caller
		want     int
	}{
		{name: "no identity", identity: nil, want: http.StatusUnauthorized},
		{name: "customer on an admin route", identity: &Identity{UserID: "u-1", Roles: []string{"customer"}}, want: http.StatusForbidden},
		{name: "identity with no roles", identity: &Identity{UserID: "u-2"}, want: http.StatusForbidden},
		{name: "role name differs only in case", identity: &Identity{UserID: "u-3", Roles: []string{"Admin"}}, want: http.StatusForbidden},
		{name: "admin", identity: &Identity{UserID: "u-4", Roles: []string{"customer", "admin"}}, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			r := gin.New()
			r.Use(func(c *gin.Context) {
				if tt.identity != nil {
					SetIdentity(c, *tt.identity)
				}
			})
			r.DELETE("/admin/orders/:id", RequireRole("admin"), func(c *gin.Context) {
				called = true
				c.Status(http.StatusOK)
			})
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/admin/orders/7", nil))

			require.Equal(t, tt.want, rec.Code, "DELETE /admin/orders/7 as %s: status = %d, want %d", tt.name, rec.Code, tt.want)
			require.Equal(t, tt.want == http.StatusOK, called, "handler called = %v, want %v", called, tt.want == http.StatusOK)
		})
	}
}
