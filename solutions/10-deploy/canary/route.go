package canary

import (
	"hash/fnv"

	"github.com/gin-gonic/gin"
)

// Pick returns the version that serves user at weight percent (0..100) of the users on the canary. It is
// a pure function of the user id: the same user gets the same version on every request and on every gateway
// replica (no per-request coin flip: a user who flips between versions sees features appear and vanish, and
// a canary bug cannot be told from a stable one). The user's bucket (0..99) does not depend on weight, so
// raising the weight from 10 to 20 only adds users to the canary; nobody moves back.
func Pick(user string, weight int) Version {
	h := fnv.New32a()
	_, _ = h.Write([]byte(user))
	if int(h.Sum32()%100) < weight {
		return Canary
	}
	return Stable
}

// Middleware decides the version of every request once, at the edge: X-Canary "always" or "never" pins it;
// otherwise a request with a user id is routed by Pick at weight, and an anonymous one goes to stable (it
// cannot stick to a version). The decision goes into the request's context (WithVersion) and into the
// internal header X-Version, replacing whatever a client sent in it: the internal header is the gateway's
// to set, never a client's to choose.
func Middleware(weight int) gin.HandlerFunc {
	return func(c *gin.Context) {
		v := Stable
		switch c.GetHeader(HeaderCanary) {
		case "always":
			v = Canary
		case "never":
			v = Stable
		default:
			if user := c.GetHeader(HeaderUser); user != "" {
				v = Pick(user, weight)
			}
		}
		c.Request.Header.Set(HeaderVersion, string(v)) // Set replaces every inbound value
		c.Request = c.Request.WithContext(WithVersion(c.Request.Context(), v))
		c.Next()
	}
}
