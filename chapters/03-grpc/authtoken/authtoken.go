// Package authtoken issues and checks the toy bearer tokens of chapter 03's runnable shop:
// "<user id>.<HMAC-SHA256 of the user id, base64url>". They never expire and carry no claims;
// chapter 04 replaces them with JWTs. They are here so that grpcurl has something to send.
package authtoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Sign returns the token for userID.
func Sign(secret []byte, userID string) string {
	return userID + "." + base64.RawURLEncoding.EncodeToString(mac(secret, userID))
}

// Verifier returns a function with interceptor.Verifier's signature that accepts Sign's tokens.
func Verifier(secret []byte) func(ctx context.Context, token string) (string, error) {
	return func(_ context.Context, token string) (string, error) {
		userID, sig, ok := strings.Cut(token, ".")
		if !ok || userID == "" {
			return "", errors.New("malformed token")
		}
		got, err := base64.RawURLEncoding.DecodeString(sig)
		if err != nil || !hmac.Equal(got, mac(secret, userID)) { // constant time: no timing oracle
			return "", errors.New("bad signature")
		}
		return userID, nil
	}
}

func mac(secret []byte, userID string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(userID))
	return h.Sum(nil)
}
