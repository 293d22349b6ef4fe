// Command limits applies runtimecfg at startup and prints, as JSON, what the Go runtime uses: GOMAXPROCS
// (the runtime's container-aware pick) and GOMEMLIMIT (from runtimecfg.MemoryLimit). Run it in a container
// with limits to see them:
//
//	docker run --rm --cpus 1 --memory 128m <image>
//	docker run --rm --memory 128m -e GOMEMLIMIT=32MiB <image>
package main

import (
	"encoding/json"
	"fmt"
	"os"

	runtimecfg "github.com/gomicrolab/microlab/chapters/10-deploy/runtime"
)

func main() {
	s, err := runtimecfg.Apply()
	if err != nil {
		fmt.Fprintln(os.Stderr, "limits:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(s)
}
