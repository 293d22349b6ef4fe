// Command token prints a bearer token for a user of the runnable shop (cmd/shop), for grpcurl:
//
//	go run ./03-grpc/cmd/token -user u1
//
// The secret must match the shop's -secret (both default to the same development value).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gomicrolab/microlab/chapters/03-grpc/authtoken"
)

func main() {
	user := flag.String("user", "", "the user id to issue the token for (cmd/shop logs the seeded ids)")
	secret := flag.String("secret", envOr("SHOP_TOKEN_SECRET", "dev-secret-change-me"), "HMAC secret shared with cmd/shop (env SHOP_TOKEN_SECRET)")
	flag.Parse()
	if *user == "" {
		fmt.Fprintln(os.Stderr, "token: -user is required, e.g. -user u1")
		os.Exit(2)
	}
	fmt.Println(authtoken.Sign([]byte(*secret), *user))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
