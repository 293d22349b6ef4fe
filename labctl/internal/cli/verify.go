package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/verify"
)

func (a *app) newVerifyCmd() *cobra.Command {
	var updateSums bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify the course (authors, CI): starters fail, solutions pass, manifest matches tests",
		Args:  cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&updateSums, "update-sums", false, "rewrite chapters/tests.sum from the test files first")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		l, err := a.open()
		var me *course.ManifestError
		if errors.As(err, &me) && len(me.Problems) > 1 {
			// Authors fixing a manifest want every problem at once, one line each.
			for _, p := range me.Problems {
				one := &course.ManifestError{File: me.File, Problems: []course.Problem{p}}
				fmt.Fprintln(a.stderr, "labctl: "+one.Error())
			}
			return quietExit(ExitBadInput)
		}
		if err != nil {
			return err
		}
		if updateSums {
			n, err := l.UpdateTestSums()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote chapters/tests.sum (%d test files)\n", n)
		}
		rep, err := verify.Run(cmd.Context(), l, verify.Options{Logf: func(f string, args ...any) {
			fmt.Fprintf(a.stderr, f+"\n", args...)
		}})
		if err != nil {
			return err
		}
		for _, c := range rep.Chapters {
			status := "ok"
			if len(c.Problems) > 0 {
				status = fmt.Sprintf("%d problem(s)", len(c.Problems))
			}
			fmt.Fprintf(a.stdout, "chapter %s: %s (%v)\n", c.Chapter, status, c.Elapsed.Round(1e7))
			for _, p := range c.Problems {
				fmt.Fprintln(a.stdout, "  "+p.String())
			}
		}
		if !rep.OK() {
			return quietExit(ExitFailed)
		}
		fmt.Fprintln(a.stdout, "course verified")
		return nil
	})
	return cmd
}
