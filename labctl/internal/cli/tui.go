package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
)

// runTUI is `labctl` with no command.
func (a *app) runTUI(cmd *cobra.Command, args []string) error {
	if a.getenv("TERM") == "dumb" {
		// A dumb terminal cannot draw the UI (no alternate screen, no cursor moves): the list instead,
		// in plain text, and how to go on.
		l, err := a.open()
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stderr, a.t("tui.dumb"))
		return a.printList(l, false)
	}
	if !isTTY(a.stdin) || !isTTY(a.stdout) {
		return badInput(msgErr("err.tui-terminal"))
	}
	l, err := a.open()
	if err != nil {
		return err
	}
	return tui.Run(cmd.Context(), l, a.lang)
}
