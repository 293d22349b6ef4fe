package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newHintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hint <exercise>",
		Short: "Show the exercise's next hint (one more each time)",
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			l, err := a.open()
			if err != nil {
				return err
			}
			idx, total, hint, err := l.NextHint(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, a.t("hint.title", idx, total, args[0]))
			fmt.Fprintln(a.stdout, "  "+a.text(hint))
			if idx == total {
				fmt.Fprintln(a.stdout, a.t("hint.last", args[0]))
			}
			return nil
		}),
	}
}
