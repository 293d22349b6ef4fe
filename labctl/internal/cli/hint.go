package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

func (a *app) newHintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hint <exercise|chapter>",
		Short: "Show the exercise's next hint (one more each time); for a chapter, its first unsolved exercise's",
		Args:  cobra.ExactArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			l, err := a.open()
			if err != nil {
				return err
			}
			exercises, err := l.Resolve(args[0])
			if err != nil {
				return err
			}
			if strings.TrimSpace(args[0]) == "" {
				return &course.UnknownTargetError{Target: args[0]}
			}
			id := exercises[0].ID // a chapter: its first exercise not passed yet, else its first
			for _, ex := range exercises {
				if l.Status(ex.ID) != runner.StatusPass {
					id = ex.ID
					break
				}
			}
			idx, total, hint, err := l.NextHint(id)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, a.t("hint.title", idx, total, id))
			fmt.Fprintln(a.stdout, "  "+a.text(hint))
			if idx == total {
				fmt.Fprintln(a.stdout, a.t("hint.last", id))
			}
			return nil
		}),
	}
}
