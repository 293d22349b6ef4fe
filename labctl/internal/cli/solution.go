package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

func (a *app) newSolutionCmd() *cobra.Command {
	var diff, yes bool
	cmd := &cobra.Command{
		Use:   "solution <chapter|exercise>",
		Short: "Copy the reference solution over your files (backed up first), or --diff to compare",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&diff, "diff", false, "show a unified diff from your files to the solution; change nothing")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask when the exercise shares files with others")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		l, err := a.open()
		if err != nil {
			return err
		}
		if diff {
			d, err := l.SolutionDiff(args[0])
			if err != nil {
				return err
			}
			if d == "" {
				fmt.Fprintln(a.stdout, a.t("diff.same"))
				return nil
			}
			fmt.Fprint(a.stdout, d)
			return nil
		}
		shared, err := l.SharedWith(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if len(shared) > 0 {
			// Solving one exercise must not silently solve another: say so, and ask.
			fmt.Fprintln(a.stdout, a.t("shared.files", args[0], strings.Join(shared, ", ")))
			if !yes {
				ok, err := a.confirm(a.t("solution.confirm", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(a.stdout, a.t("solution.cancelled"))
					return nil
				}
			}
		}
		ch, err := l.ApplySolution(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		a.printChange(ch)
		fmt.Fprintln(a.stdout, a.t("solution.applied", args[0]))
		return nil
	})
	return cmd
}

// printChange says what was written and where the learner's previous files are.
func (a *app) printChange(ch *lab.Change) {
	if len(ch.Written) == 0 {
		fmt.Fprintln(a.stdout, a.t("nothing.changed"))
		return
	}
	for _, f := range ch.Written {
		fmt.Fprintln(a.stdout, a.t("written", f))
	}
	if ch.BackupDir != "" {
		fmt.Fprintln(a.stdout, a.t("backup.where", ch.BackupDir))
	}
}
