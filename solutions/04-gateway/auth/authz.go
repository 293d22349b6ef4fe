package auth

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// RequireRole lets a request through only if the authenticated caller has role.
//
// 401 and 403 mean different things to a client: 401 "I don't know who you are, (re)authenticate",
// 403 "I know who you are and the answer is no; a new token won't help". Mixing them up sends clients
// into login loops or hides real permission bugs.
func RequireRole(role string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := IdentityFrom(c)
		if !ok {
			// Only reachable if a route forgot Authenticate: fail closed, as unauthenticated.
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
			return
		}
		if !id.HasRole(role) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "forbidden"})
			return
		}
		c.Next()
	}
}
