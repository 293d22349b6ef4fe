// Command token mints an RS256 access token for the chapter 04 gateway, as the identity provider would.
//
//	go run ./04-gateway/cmd/token -sub u-42 -role customer            # valid for 10 minutes
//	go run ./04-gateway/cmd/token -sub u-root -role admin
//	go run ./04-gateway/cmd/token -sub u-42 -role customer -ttl -1m   # already expired
//	go run ./04-gateway/cmd/token -sub u-42 -role admin -forge        # signed by a key the gateway does not trust
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/cmd/internal/devkey"
)

func main() {
	keyPath := flag.String("key", "gateway-dev-key.pem", "the identity provider's private key (created if missing; cmd/gateway reads the same file)")
	sub := flag.String("sub", "u-42", "subject: the user id")
	roles := flag.String("role", "customer", "comma-separated roles, e.g. customer or customer,admin")
	ttl := flag.Duration("ttl", 10*time.Minute, "lifetime from now; negative for an already expired token")
	iss := flag.String("iss", "https://id.shop.test", "issuer (iss)")
	aud := flag.String("aud", "shop-gateway", "audience (aud)")
	forge := flag.Bool("forge", false, "sign with a fresh random key instead: what an attacker without the real key can make")
	flag.Parse()

	var key *rsa.PrivateKey
	var err error
	if *forge {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = devkey.LoadOrCreate(*keyPath)
	}
	if err != nil {
		log.Fatal(err)
	}

	now := time.Now()
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   *sub,
			Issuer:    *iss,
			Audience:  jwt.ClaimStrings{*aud},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(*ttl)),
		},
	}
	if *roles != "" {
		claims.Roles = strings.Split(*roles, ",")
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s)
}
