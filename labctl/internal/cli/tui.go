package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
)

// runTUI is `labctl` with no command.
func (a *app) runTUI(cmd *cobra.Command, args []string) error {
	if !isTTY(a.stdin) || !isTTY(a.stdout) {
		return badInput(errors.New("the lab's UI needs a terminal; in scripts use `labctl list`, `labctl check` or `labctl --help`"))
	}
	l, err := a.open()
	if err != nil {
		return err
	}
	return tui.Run(cmd.Context(), l, a.lang)
}
