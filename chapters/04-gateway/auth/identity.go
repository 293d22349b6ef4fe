// Package auth authenticates callers at the gateway (JWT) and authorises them by role.
package auth

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Headers the gateway sets for backends. Backends trust them because only the gateway can reach the
// backends, and the gateway deletes whatever a client sent under these names before it sets its own.
const (
	HeaderUserID    = "X-User-Id"
	HeaderUserRoles = "X-User-Roles" // comma-separated
)

// Identity is who the caller is, as proven by a verified token.
type Identity struct {
	UserID string
	Roles  []string
}

// HasRole reports whether the identity carries role.
func (id Identity) HasRole(role string) bool { return slices.Contains(id.Roles, role) }

type identityKey struct{}

// SetIdentity records a verified identity for later middleware and handlers, and sets the identity
// headers on the request so that proxied backends receive it. A caller without roles gets no roles
// header at all, so whatever the client sent under that name must already be gone: Authenticate deletes it.
func SetIdentity(c *gin.Context, id Identity) {
	c.Set(identityKey{}, id)
	c.Request.Header.Set(HeaderUserID, id.UserID)
	if len(id.Roles) > 0 {
		c.Request.Header.Set(HeaderUserRoles, strings.Join(id.Roles, ","))
	}
}

// IdentityFrom returns the identity that Authenticate verified, if any.
func IdentityFrom(c *gin.Context) (Identity, bool) {
	v, ok := c.Get(identityKey{})
	if !ok {
		return Identity{}, false
	}
	id, ok := v.(Identity)
	return id, ok
}
