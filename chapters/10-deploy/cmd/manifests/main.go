// Command manifests prints the orders service's Kubernetes manifests (10-manifests) for kubectl:
//
//	go run ./10-deploy/cmd/manifests | kubectl apply --dry-run=server -f -
package main

import (
	"fmt"
	"strings"

	"github.com/gomicrolab/microlab/chapters/10-deploy/manifests"
)

func main() {
	fmt.Println(strings.TrimSpace(manifests.Manifests))
}
