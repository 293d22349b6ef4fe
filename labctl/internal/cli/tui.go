package cli

import (
	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
)

// runTUI is `labctl` with no command.
func (a *app) runTUI(cmd *cobra.Command, args []string) error {
	l, err := a.open()
	if err != nil {
		return err
	}
	return tui.Run(cmd.Context(), l, a.lang)
}
