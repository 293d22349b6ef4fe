// Command imaged is the server that the 10-image exercise ships in a FROM scratch image.
//
//	go run ./10-deploy/cmd/imaged               # serve on :8080 (GET / answers uid, GOMAXPROCS, GOMEMLIMIT)
//	go run ./10-deploy/cmd/imaged -dockerfile   # print image.Dockerfile()
//	go run ./10-deploy/cmd/imaged -build        # print the go build command of image.BuildEnv and BuildFlags
//
// It stops on SIGTERM or Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gomicrolab/microlab/chapters/10-deploy/image"
)

func main() {
	dockerfile := flag.Bool("dockerfile", false, "print the Dockerfile and exit")
	build := flag.Bool("build", false, "print the go build command (run it in chapters/) and exit")
	flag.Parse()
	switch {
	case *dockerfile:
		fmt.Print(image.Dockerfile())
		return
	case *build:
		var words []string
		words = append(words, image.BuildEnv()...)
		words = append(words, "go", "build")
		words = append(words, image.BuildFlags()...)
		words = append(words, "-o", image.Binary, "./10-deploy/cmd/imaged")
		for i, w := range words {
			words[i] = shellQuote(w)
		}
		fmt.Println(strings.Join(words, " "))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := image.Serve(ctx, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "imaged:", err)
		os.Exit(1)
	}
}

// shellQuote quotes w for a POSIX shell when it needs it.
func shellQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
