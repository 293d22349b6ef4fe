package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://id.shop.test"
	testAudience = "shop-gateway"
)

var (
	keysOnce           sync.Once
	issuerKey, evilKey *rsa.PrivateKey
)

// keys returns the identity provider's key pair and an attacker's, generated once per test binary.
func keys(t *testing.T) (issuer, attacker *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if issuerKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if evilKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return issuerKey, evilKey
}

func testVerifier(t *testing.T) *Verifier {
	iss, _ := keys(t)
	return &Verifier{Key: &iss.PublicKey, Issuer: testIssuer, Audience: testAudience, Leeway: 5 * time.Second}
}

// goodClaims are valid now for user u-42 with role "customer".
func goodClaims() Claims {
	now := time.Now()
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "u-42",
			Issuer:    testIssuer,
			Audience:  jwt.ClaimStrings{testAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
		},
		Roles: []string{"customer"},
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, c Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatalf("signing a test token with %s: %v", method.Alg(), err)
	}
	return s
}

// publicKeyPEM is what an attacker can download from the issuer's JWKS/PEM endpoint; the HS/RS
// confusion attack uses it as an HMAC secret.
func publicKeyPEM(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// unsignedWithAlg builds header.payload. with an arbitrary alg, as a hand-crafted attack would.
func unsignedWithAlg(t *testing.T, alg string, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, c)
	tok.Header["alg"] = alg
	s, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return s + "."
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
