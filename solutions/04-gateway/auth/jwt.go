package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(raw, claims,
		// The key function returns our key whatever the header says; the algorithm is pinned below.
		func(*jwt.Token) (any, error) { return v.Key, nil },
		// Pin the algorithm. The token's own "alg" header is attacker-controlled: without this list, a
		// key function that hands back key bytes lets "none" or HS256-signed-with-the-public-key through.
		// golang-jwt's typed keys stop those today; pinning keeps it true when the key handling changes.
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		// exp is optional in the JWT spec; a token that never expires cannot be revoked by time, so require it.
		jwt.WithExpirationRequired(),
		// Both are required and compared exactly (no prefix, no case folding): a token that another
		// issuer minted, or that was meant for another service, must not open this one.
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithLeeway(v.Leeway),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if strings.TrimSpace(claims.Subject) == "" { // " " would reach the backend as an empty X-User-Id
		return nil, fmt.Errorf("%w: token has no subject", ErrUnauthenticated)
	}
	for _, r := range claims.Roles {
		// X-User-Roles is comma-separated: a role named "customer,admin" is one role to RequireRole and
		// two to a backend that splits the header.
		if strings.Contains(r, ",") {
			return nil, fmt.Errorf("%w: role %q contains a comma", ErrUnauthenticated, r)
		}
	}
	return claims, nil
}

// Authenticate refuses requests without a valid bearer token with 401, and otherwise records the
// caller's identity (SetIdentity) for the handlers and backends after it.
func Authenticate(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		// First, and unconditionally: a client must never be able to choose its identity by sending the
		// header itself. Deleting before verifying also covers the 401 path and any route added later.
		c.Request.Header.Del(HeaderUserID)
		c.Request.Header.Del(HeaderUserRoles)

		// Exactly one Authorization header. With two, the gateway would verify one (GetHeader returns the
		// first) and forward both, and a backend that reads the other acts on a token nobody checked.
		values := c.Request.Header.Values("Authorization")
		if len(values) != 1 {
			unauthenticated(c)
			return
		}
		raw, ok := bearerToken(values[0])
		if !ok {
			unauthenticated(c)
			return
		}
		claims, err := v.Verify(raw)
		if err != nil {
			// The reason goes to our logs (c.Error), not to the client: telling an attacker which check
			// failed helps them.
			_ = c.Error(err)
			unauthenticated(c)
			return
		}
		SetIdentity(c, Identity{UserID: claims.Subject, Roles: claims.Roles})
		c.Next()
	}
}

// bearerToken extracts the token from "Bearer <token>". The scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// unauthenticated ends the request with 401 and the challenge header RFC 6750 asks for.
func unauthenticated(c *gin.Context) {
	c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
}
