package auth

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated wraps every reason a token is refused.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// Claims are the token's registered claims plus the caller's roles.
type Claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// Verifier checks RS256 tokens issued by one identity provider for one audience.
type Verifier struct {
	Key      *rsa.PublicKey // the issuer's public key
	Issuer   string         // required "iss"
	Audience string         // required in "aud"
	Leeway   time.Duration  // clock skew allowed on exp, nbf and iat
}

// Verify parses raw and returns its claims if, and only if, the token is signed with RS256 by Key,
// is within its validity window, carries exp, and names the expected issuer, audience and a subject.
// Every error wraps ErrUnauthenticated and, where the library has one, its specific error.
func (v *Verifier) Verify(raw string) (*Claims, error) {
	// TODO(04-jwt): parse with jwt.ParseWithClaims and parser options that pin the algorithm, require exp,
	// and check issuer, audience and leeway; refuse an empty subject. Wrap errors with ErrUnauthenticated.
	return nil, errors.New("TODO(04-jwt): Verify is not implemented")
}

// Authenticate refuses requests without a valid bearer token with 401, and otherwise records the
// caller's identity (SetIdentity) for the handlers and backends after it.
func Authenticate(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		// TODO(04-jwt): delete client-sent identity headers, read "Authorization: Bearer <token>" (the
		// scheme is case-insensitive, RFC 7235: "bearer" works too), Verify it, and on any failure answer
		// 401 with the header WWW-Authenticate: Bearer and the JSON body {"error":"unauthenticated"};
		// otherwise SetIdentity and c.Next().
		c.AbortWithStatusJSON(http.StatusNotImplemented, gin.H{"error": "TODO(04-jwt): Authenticate is not implemented"})
	}
}
