package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func init() { gin.SetMode(gin.TestMode) }

// backendSeen is what the handler behind Authenticate received.
type backendSeen struct {
	called bool
	userID string
	roles  string
	id     Identity
}

// authRouter serves GET /orders behind Authenticate and records what reached the handler.
func authRouter(v *Verifier, seen *backendSeen) *gin.Engine {
	r := gin.New()
	r.Use(Authenticate(v))
	r.GET("/orders", func(c *gin.Context) {
		seen.called = true
		seen.userID = c.Request.Header.Get(HeaderUserID)
		seen.roles = c.Request.Header.Get(HeaderUserRoles)
		seen.id, _ = IdentityFrom(c)
		c.Status(http.StatusOK)
	})
	return r
}

func get(r http.Handler, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestJWTRejects: every way a token can be wrong is its own case, and each one gets 401 without
// reaching the backend. Where golang-jwt has a specific error, Verify must wrap it.
func TestJWTRejects(t *testing.T) {
	issuer, attacker := keys(t)
	v := testVerifier(t)
	with := func(edit func(*Claims)) Claims { c := goodClaims(); edit(&c); return c }

	tests := []struct {
		name    string
		header  http.Header
		wantErr error // also checked on Verify, unless nil
	}{
		{name: "missing Authorization header", header: http.Header{}},
		{name: "empty bearer token", header: http.Header{"Authorization": {"Bearer "}}},
		{name: "Basic scheme instead of Bearer", header: http.Header{"Authorization": {"Basic dTpw"}}},
		{name: "malformed: not a JWT", header: bearer("not-a-jwt"), wantErr: jwt.ErrTokenMalformed},
		{name: "malformed: bad base64 in payload", header: bearer(b64(`{"alg":"RS256"}`) + ".%%%." + b64("sig")), wantErr: jwt.ErrTokenMalformed},
		{name: "expired", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
		}))), wantErr: jwt.ErrTokenExpired},
		{name: "not valid yet (nbf in the future)", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		}))), wantErr: jwt.ErrTokenNotValidYet},
		{name: "no exp claim: a token that never expires", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.ExpiresAt = nil
		}))), wantErr: jwt.ErrTokenRequiredClaimMissing},
		{name: "alg none", header: bearer(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, goodClaims()))},
		{name: "alg NONE, hand-crafted", header: bearer(unsignedWithAlg(t, "NONE", goodClaims()))},
		{name: "HS256 signed with the issuer's public key (HS/RS confusion)",
			header: bearer(sign(t, jwt.SigningMethodHS256, publicKeyPEM(t, &issuer.PublicKey), goodClaims()))},
		// Signed by the issuer's own key, so the signature checks out: only a pinned algorithm refuses these.
		// A verifier that lets the token's alg header choose accepts them, and tomorrow's weaker alg too.
		{name: "RS512 by the issuer's key (algorithm not pinned)", header: bearer(sign(t, jwt.SigningMethodRS512, issuer, goodClaims())),
			wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "PS256 by the issuer's key (algorithm not pinned)", header: bearer(sign(t, jwt.SigningMethodPS256, issuer, goodClaims())),
			wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "RS256 signed by the wrong key", header: bearer(sign(t, jwt.SigningMethodRS256, attacker, goodClaims())),
			wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "valid signature, payload swapped", header: func() http.Header {
			good := sign(t, jwt.SigningMethodRS256, issuer, goodClaims())
			admin := sign(t, jwt.SigningMethodRS256, attacker, with(func(c *Claims) { c.Roles = []string{"admin"} }))
			h, p := splitJWT(good), splitJWT(admin)
			return bearer(h[0] + "." + p[1] + "." + h[2])
		}(), wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "wrong issuer", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Issuer = "https://evil.test"
		}))), wantErr: jwt.ErrTokenInvalidIssuer},
		{name: "wrong audience", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Audience = jwt.ClaimStrings{"another-service"}
		}))), wantErr: jwt.ErrTokenInvalidAudience},
		{name: "no subject", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Subject = ""
		})))},
		// X-User-Roles is comma-separated: this one role would be two ("customer" and "admin") to a backend.
		{name: "role name containing the roles header's separator", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Roles = []string{"customer,admin"}
		})))},
		// HTTP trims header values, so " " would reach the backend as an empty X-User-Id.
		{name: "blank subject", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Subject = " "
		})))},
		// iss and aud are required, and compared exactly (RFC 7519 4.1.1, 4.1.3): a token minted for another
		// issuer or service that merely resembles ours must not work here.
		{name: "issuer that starts with ours", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Issuer = testIssuer + ".evil.example"
		}))), wantErr: jwt.ErrTokenInvalidIssuer},
		{name: "issuer that differs only in case", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Issuer = "https://ID.shop.test"
		}))), wantErr: jwt.ErrTokenInvalidIssuer},
		{name: "no issuer", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Issuer = ""
		}))), wantErr: jwt.ErrTokenRequiredClaimMissing},
		{name: "audience that contains ours", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Audience = jwt.ClaimStrings{testAudience + "-admin"}
		}))), wantErr: jwt.ErrTokenInvalidAudience},
		{name: "audience that is part of ours", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Audience = jwt.ClaimStrings{"shop"}
		}))), wantErr: jwt.ErrTokenInvalidAudience},
		{name: "no audience", header: bearer(sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) {
			c.Audience = nil
		}))), wantErr: jwt.ErrTokenRequiredClaimMissing},
		// Two credentials in one request: which one did the gateway check, and which one will a backend read?
		// Refuse rather than guess (the header appears at most once, RFC 7235 4.2).
		{name: "two Authorization headers", header: http.Header{"Authorization": {
			"Bearer " + sign(t, jwt.SigningMethodRS256, issuer, goodClaims()),
			"Bearer " + sign(t, jwt.SigningMethodRS256, issuer, with(func(c *Claims) { c.Subject = "u-root"; c.Roles = []string{"admin"} })),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen backendSeen
			rec := get(authRouter(v, &seen), tt.header)

			require.Equal(t, http.StatusUnauthorized, rec.Code, "GET /orders with %s: status = %d, want 401 (body %s)", tt.name, rec.Code, rec.Body)
			require.False(t, seen.called, "GET /orders with %s reached the backend, want it stopped at the gateway", tt.name)
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer", "a 401 must carry a WWW-Authenticate: Bearer challenge")

			if tt.wantErr != nil {
				raw := tt.header.Get("Authorization")[len("Bearer "):]
				_, err := v.Verify(raw)
				require.ErrorIs(t, err, ErrUnauthenticated, "Verify(%s) error = %v, want it to wrap ErrUnauthenticated", tt.name, err)
				require.ErrorIs(t, err, tt.wantErr, "Verify(%s) error = %v, want it to wrap %v", tt.name, err, tt.wantErr)
			}
		})
	}
}

func splitJWT(s string) [3]string {
	var out [3]string
	for i := range 2 {
		j := 0
		for j < len(s) && s[j] != '.' {
			j++
		}
		out[i], s = s[:j], s[j+1:]
	}
	out[2] = s
	return out
}

func TestJWTValidTokenReachesBackend(t *testing.T) {
	issuer, _ := keys(t)
	v := testVerifier(t)
	c := goodClaims()
	c.Roles = []string{"customer", "support"}
	var seen backendSeen

	rec := get(authRouter(v, &seen), bearer(sign(t, jwt.SigningMethodRS256, issuer, c)))

	require.Equal(t, http.StatusOK, rec.Code, "GET /orders with a valid token: status = %d, want 200 (body %s)", rec.Code, rec.Body)
	require.True(t, seen.called, "a valid token must reach the backend")
	require.Equal(t, Identity{UserID: "u-42", Roles: []string{"customer", "support"}}, seen.id, "IdentityFrom(c) in the backend handler")
	require.Equal(t, "u-42", seen.userID, "backend header %s = %q, want the token's subject", HeaderUserID, seen.userID)
	require.Equal(t, "customer,support", seen.roles, "backend header %s = %q, want the token's roles", HeaderUserRoles, seen.roles)

	claims, err := v.Verify(sign(t, jwt.SigningMethodRS256, issuer, c))
	require.NoError(t, err, "Verify(valid token)")
	require.Equal(t, "u-42", claims.Subject)

	// Authentication schemes are case-insensitive (RFC 7235): "bearer <token>" is the same as "Bearer <token>".
	for _, scheme := range []string{"bearer", "BEARER", "BeArEr"} {
		var lower backendSeen
		rec = get(authRouter(v, &lower), http.Header{"Authorization": {scheme + " " + sign(t, jwt.SigningMethodRS256, issuer, c)}})
		require.Equal(t, http.StatusOK, rec.Code, "GET /orders with Authorization: %s <valid token>: status = %d, want 200: the scheme is case-insensitive (RFC 7235)", scheme, rec.Code)
		require.Equal(t, "u-42", lower.userID, "backend header %s = %q with the scheme %q, want u-42", HeaderUserID, lower.userID, scheme)
	}

	// A token may name several audiences; ours among them is enough.
	multi := goodClaims()
	multi.Audience = jwt.ClaimStrings{"billing", testAudience}
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, issuer, multi))
	require.NoError(t, err, "Verify(token with aud [billing %s]): one of the audiences is ours, want it accepted", testAudience)
}

func TestJWTLeewayAllowsSmallClockSkew(t *testing.T) {
	issuer, _ := keys(t)
	c := goodClaims()
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Second)) // within the verifier's 5 s leeway
	v := testVerifier(t)
	_, err := v.Verify(sign(t, jwt.SigningMethodRS256, issuer, c))
	require.NoError(t, err, "Verify(token expired 2 s ago, leeway 5 s): the leeway must absorb small clock skew")

	// The leeway is the verifier's setting (v.Leeway), on both ends of the window, and no wider: a
	// generous hard-coded leeway keeps stolen tokens alive after they expired.
	nbf := goodClaims()
	nbf.NotBefore = jwt.NewNumericDate(time.Now().Add(2 * time.Second))
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, issuer, nbf))
	require.NoError(t, err, "Verify(token valid from 2 s in the future, leeway 5 s): the leeway applies to nbf too")

	for _, tt := range []struct {
		name    string
		edit    func(*Claims)
		wantErr error
	}{
		{"expired 15 s ago", func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-15 * time.Second)) }, jwt.ErrTokenExpired},
		{"valid from 15 s in the future", func(c *Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(15 * time.Second)) }, jwt.ErrTokenNotValidYet},
	} {
		c := goodClaims()
		tt.edit(&c)
		_, err = v.Verify(sign(t, jwt.SigningMethodRS256, issuer, c))
		require.ErrorIs(t, err, tt.wantErr, "Verify(token %s, Verifier.Leeway %v) error = %v, want %v: use the configured leeway, not a wider one", tt.name, v.Leeway, err, tt.wantErr)
	}
}

// TestJWTStripsSpoofedIdentity: a client-sent X-User-Id must never reach a backend, whether the
// token is valid (the gateway's value wins) or not (nothing reaches the backend at all).
func TestJWTStripsSpoofedIdentity(t *testing.T) {
	issuer, _ := keys(t)
	v := testVerifier(t)
	var seen backendSeen
	h := bearer(sign(t, jwt.SigningMethodRS256, issuer, goodClaims()))
	h.Set(HeaderUserID, "u-admin")
	h.Set(HeaderUserRoles, "admin")

	rec := get(authRouter(v, &seen), h)

	require.Equal(t, http.StatusOK, rec.Code, "valid token plus spoofed headers: status = %d, want 200", rec.Code)
	require.Equal(t, "u-42", seen.userID, "backend saw %s = %q, want the token's subject u-42: delete client-sent identity headers", HeaderUserID, seen.userID)
	require.Equal(t, "customer", seen.roles, "backend saw %s = %q, want the token's roles", HeaderUserRoles, seen.roles)

	// A token without roles sets no roles header, so a spoofed one survives unless it was deleted first.
	var seen3 backendSeen
	noRoles := goodClaims()
	noRoles.Roles = nil
	h3 := bearer(sign(t, jwt.SigningMethodRS256, issuer, noRoles))
	h3.Set(HeaderUserRoles, "admin")
	get(authRouter(v, &seen3), h3)
	require.Empty(t, seen3.roles, "token without roles plus a spoofed %s: admin: backend saw %q, want nothing: delete client-sent identity headers before setting your own", HeaderUserRoles, seen3.roles)

	// A second copy of the header (the client sends it twice) must not survive either.
	var seen2 backendSeen
	h2 := bearer(sign(t, jwt.SigningMethodRS256, issuer, goodClaims()))
	h2[HeaderUserID] = []string{"u-admin", "u-root"}
	get(authRouter(v, &seen2), h2)
	require.Equal(t, "u-42", seen2.userID, "backend saw %s = %q with the header sent twice, want u-42", HeaderUserID, seen2.userID)
}

func TestJWT401BodyIsJSON(t *testing.T) {
	var seen backendSeen
	rec := get(authRouter(testVerifier(t), &seen), http.Header{})
	var body map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "401 body %q is not JSON", rec.Body)
	require.Equal(t, "unauthenticated", body["error"], "401 body = %v, want {\"error\":\"unauthenticated\"}", body)
}
