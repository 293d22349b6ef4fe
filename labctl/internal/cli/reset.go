package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) newResetCmd() *cobra.Command {
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "reset <chapter|exercise> | --all",
		Short: "Restore the starter code from git (your files are backed up first)",
		Args:  cobra.MaximumNArgs(1),
	}
	cmd.Flags().BoolVar(&all, "all", false, "reset every chapter")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if all == (len(args) == 1) {
			return badInput(msgErr("err.reset-target"))
		}
		target, name := firstArg(args), firstArg(args)
		if all {
			name = "the whole course"
		}
		l, err := a.open()
		if err != nil {
			return err
		}
		if _, err := l.Resolve(target); err != nil {
			return err
		}
		shared, err := l.SharedWith(cmd.Context(), target)
		if err != nil {
			return err
		}
		if len(shared) > 0 {
			fmt.Fprintln(a.stdout, a.t("shared.files", target, strings.Join(shared, ", ")))
		}
		if !yes {
			ok, err := a.confirm(a.t("reset.confirm", name))
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintln(a.stdout, a.t("reset.cancelled"))
				return nil
			}
		}
		ch, err := l.Reset(cmd.Context(), target)
		if err != nil {
			return err
		}
		a.printChange(ch)
		return nil
	})
	return cmd
}

// confirm asks a y/N question on a terminal; without one it refuses rather than guess.
func (a *app) confirm(question string) (bool, error) {
	if !isTTY(a.stdin) {
		return false, badInput(msgErr("err.no-confirm"))
	}
	fmt.Fprint(a.stdout, question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes" || answer == "是", nil
}
