package canary

import (
	"github.com/gin-gonic/gin"
)

// Pick returns the version that serves user at weight percent (0..100) of the users on the canary. It is
// a pure function of the user id: the same user gets the same version on every request and on every gateway
// replica. Raising the weight only adds users to the canary; nobody who was on it moves back to stable.
func Pick(user string, weight int) Version {
	// TODO(10-canary): hash the user id into a bucket 0..99 with a stable hash (hash/fnv, crc32); the
	// buckets below weight are the canary's.
	return Stable
}

// Middleware decides the version of every request once, at the edge: X-Canary "always" or "never" pins it;
// otherwise a request with a user id (X-User-ID) is routed by Pick at weight, and an anonymous one goes to
// stable. The decision goes into the request's context (WithVersion) and into the internal header X-Version,
// replacing whatever a client sent in it.
func Middleware(weight int) gin.HandlerFunc {
	return func(c *gin.Context) {
		// TODO(10-canary): decide the version, put it into c.Request's context and X-Version header.
		c.Next()
	}
}
