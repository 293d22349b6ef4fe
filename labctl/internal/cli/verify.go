package cli

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/verify"
)

func (a *app) newVerifyCmd() *cobra.Command {
	var updateSums, wrongOnly bool
	var report string
	var workers, runWorkers, chapters int
	cmd := &cobra.Command{
		Use:   "verify [chapter|exercise ...]",
		Short: "Verify the course (authors, CI): starters fail, solutions pass, wrong solutions fail, manifest matches tests",
		Long: "verify checks, per chapter: the starter compiles and fails every exercise; with the solution every test\n" +
			"passes; every committed wrong solution (solutions/wrong/<exercise>/*.patch, at least 4 per exercise)\n" +
			"compiles and fails a test of its exercise, and which test caught it; the manifest matches the tests;\n" +
			"tests.sum matches. With targets it verifies only their chapters (and the wrong solutions of the\n" +
			"exercises named).",
	}
	cmd.Flags().BoolVar(&updateSums, "update-sums", false, "rewrite chapters/tests.sum from the test files first")
	cmd.Flags().BoolVar(&wrongOnly, "wrong", false, "run only the wrong solutions of the targets")
	cmd.Flags().IntVar(&workers, "workers", 0, "wrong solutions that build their test binary at once (default: the number of CPUs)")
	cmd.Flags().IntVar(&runWorkers, "run-workers", 0, fmt.Sprintf("wrong solutions under way at once, building or running (default: %d per build worker)", verify.RunWorkersPerCPU))
	cmd.Flags().IntVar(&chapters, "chapters", 0, fmt.Sprintf("chapters verified at once, sharing the servers and the worker slots (default: %d)", verify.ChaptersAtOnce))
	cmd.Flags().StringVar(&report, "report", "", "also write the wrong solutions and the tests that caught them to this Markdown file")
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
		var mu sync.Mutex // wrong solutions run, and log, in parallel
		opts := verify.Options{WrongOnly: wrongOnly, Workers: workers, RunWorkers: runWorkers, Chapters: chapters, Logf: func(f string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(a.stderr, f+"\n", args...)
		}}
		if len(args) > 0 {
			if opts.Exercises, err = resolveAll(l, args); err != nil {
				return err
			}
		}
		rep, err := verify.Run(cmd.Context(), l, opts)
		if err != nil {
			return err
		}
		for _, p := range rep.Course {
			fmt.Fprintln(a.stdout, p.String())
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
			rejected := 0
			for _, w := range c.Wrong {
				if w.Rejected {
					rejected++
				}
			}
			if len(c.Wrong) > 0 {
				fmt.Fprintf(a.stdout, "  %d of %d wrong solutions rejected\n", rejected, len(c.Wrong))
			}
		}
		if report != "" {
			if err := os.WriteFile(report, []byte(verify.WrongReport(rep)), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s\n", report)
		}
		if !rep.OK() {
			return quietExit(ExitFailed)
		}
		fmt.Fprintln(a.stdout, "course verified")
		return nil
	})
	return cmd
}
