// Command smoke runs the labctl TUI against the scripted fake lab, for TestTmuxSmoke.
// Usage: smoke [en|zh]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
	"github.com/gomicrolab/microlab/labctl/internal/tui/testdata/fakelab"
)

func main() {
	lang := "en"
	if len(os.Args) > 1 {
		lang = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := tui.Run(ctx, fakelab.New(), lang); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
