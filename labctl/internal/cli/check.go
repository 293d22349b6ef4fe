package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

func (a *app) newCheckCmd() *cobra.Command {
	var asJSON, solution, noCache bool
	cmd := &cobra.Command{
		Use:   "check [chapter|exercise ...]",
		Short: "Run the tests of a chapter, an exercise, or the whole course",
		Long: "check runs `go test` on the learner's code in chapters/ and reports each exercise as\n" +
			"pass, fail, compile-error, infra-error, timeout, skip (never a pass), no-tests or not-run.\n\n" + exitCodesHelp,
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON document (stable; see check_json.go) instead of text")
	cmd.Flags().BoolVar(&solution, "solution", false, "check the reference solution instead of your code (nothing on disk changes)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "run the tests even if go's test cache has a result")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		l, err := a.open()
		if err != nil {
			return err
		}
		exercises, err := resolveAll(l, args)
		if err != nil {
			return err
		}
		var warnings []string
		var mu sync.Mutex // Logf is called from the servers' start goroutines
		opts := lab.CheckOptions{Solution: solution, NoCache: noCache, Logf: func(f string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, fmt.Sprintf(f, args...))
		}}
		stopProgress := func() {}
		if !asJSON { // --json keeps stderr for errors: a script reads one document
			p := a.newProgress(isTTY(a.stderr))
			opts.Progress, stopProgress = p.step, p.run()
			opts.Logf = func(f string, args ...any) { p.line(fmt.Sprintf(f, args...)) }
		}
		results, err := l.Check(cmd.Context(), exercises, opts, nil)
		stopProgress()
		if results == nil && err != nil {
			if asJSON { // a script reading --json always gets its document, with the reason
				doc := toCheckJSON(l.Course(), nil, solution, warnings)
				doc.Error, doc.ExitCode = err.Error(), exitCode(err)
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if encErr := enc.Encode(doc); encErr != nil {
					return encErr
				}
			}
			return err
		}
		if asJSON {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			if encErr := enc.Encode(toCheckJSON(l.Course(), results, solution, warnings)); encErr != nil {
				return encErr
			}
		} else {
			a.renderResults(a.stdout, l.Course(), results)
			if solution {
				fmt.Fprintln(a.stdout, a.t("check.solution"))
			}
		}
		if err != nil { // interrupted: the partial results are shown, the code says why
			return err
		}
		return quietExit(outcome(results))
	})
	return cmd
}

// resolveAll resolves each target (a chapter or an exercise; none means the whole course) and returns
// their exercises once each, in course order.
func resolveAll(l *lab.Lab, targets []string) ([]*course.Exercise, error) {
	if len(targets) == 0 {
		return l.Resolve("")
	}
	want := map[*course.Exercise]bool{}
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			return nil, &course.UnknownTargetError{Target: t}
		}
		exs, err := l.Resolve(t)
		if err != nil {
			return nil, err
		}
		for _, ex := range exs {
			want[ex] = true
		}
	}
	var out []*course.Exercise
	for _, ex := range l.Course().Exercises() {
		if want[ex] {
			out = append(out, ex)
		}
	}
	return out, nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
