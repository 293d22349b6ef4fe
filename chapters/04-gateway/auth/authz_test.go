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
		// Roles are names, not patterns: a role that contains, extends or starts like "admin" is another role.
		{name: "role that ends with the name (sysadmin)", identity: &Identity{UserID: "u-5", Roles: []string{"customer", "sysadmin"}}, want: http.StatusForbidden},
		{name: "role that starts with the name (admin-readonly)", identity: &Identity{UserID: "u-6", Roles: []string{"admin-readonly"}}, want: http.StatusForbidden},
		{name: "role that is a prefix of the name (adm)", identity: &Identity{UserID: "u-7", Roles: []string{"adm"}}, want: http.StatusForbidden},
		{name: "roles whose concatenation spells the name", identity: &Identity{UserID: "u-8", Roles: []string{"ad", "min"}}, want: http.StatusForbidden},
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

			require.Equal(t, tt.want, rec.Code, "DELETE /admin/orders/7 as %s (roles %q): status = %d, want %d: 401 means no identity, 403 an identity without exactly the role \"admin\"",
				tt.name, roles(tt.identity), rec.Code, tt.want)
			require.Equal(t, tt.want == http.StatusOK, called, "handler called = %v, want %v: a refused request must be aborted, not only answered", called, tt.want == http.StatusOK)
		})
	}
}

func roles(id *Identity) []string {
	if id == nil {
		return nil
	}
	return id.Roles
}
