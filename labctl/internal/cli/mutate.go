package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/mutate"
)

// newMutateCmd is the authors' mutation testing: slow, outside CI, run by `make mutate`.
func (a *app) newMutateCmd() *cobra.Command {
	var write bool
	var coefficient int
	var save, load string
	cmd := &cobra.Command{
		Use:    "mutate [chapter|exercise ...]",
		Short:  "Mutation-test the solutions with gremlins (authors; slow)",
		Long:   "mutate applies every solution onto a copy of chapters/ and runs gremlins over the solution files,\ntesting each mutant with the owning exercise's tests only. It prints the report; --write puts it in\ndocs/mutation.md and docs/mutation.zh-CN.md (only for a run over the whole course).",
		Hidden: true,
	}
	cmd.Flags().BoolVar(&write, "write", false, "write docs/mutation.md and docs/mutation.zh-CN.md instead of printing")
	cmd.Flags().IntVar(&coefficient, "timeout-coefficient", 0, "a mutant's time limit, in multiples of the tests' time on the solution (default 8)")
	cmd.Flags().StringVar(&save, "save", "", "also save the run's data to this JSON file")
	cmd.Flags().StringVar(&load, "load", "", "render a run saved with --save instead of running gremlins")
	cmd.RunE = a.runE(func(cmd *cobra.Command, args []string) error {
		if write && len(args) > 0 {
			return badInput(fmt.Errorf("--write writes the report of the whole course: give no chapter or exercise"))
		}
		l, err := a.open()
		if err != nil {
			return err
		}
		c := l.Course()
		var ids []string
		chapters := c.Chapters
		if len(args) > 0 {
			chapters = nil
			for _, arg := range args {
				exs, err := l.Resolve(arg)
				if err != nil {
					return err
				}
				for _, ex := range exs {
					ids = append(ids, ex.ID)
					if ch := c.Chapter(ex.Chapter); !containsChapter(chapters, ch) {
						chapters = append(chapters, ch)
					}
				}
			}
		}
		var rep *mutate.Report
		if load != "" {
			f, err := os.Open(load)
			if err != nil {
				return err
			}
			rep, err = mutate.ReadJSON(f, c)
			f.Close()
			if err != nil {
				return err
			}
		} else {
			files, err := l.SolutionFiles(chapters)
			if err != nil {
				return err
			}
			rep, err = mutate.Run(cmd.Context(), c, files, mutate.Options{
				TimeoutCoefficient: coefficient,
				Exercises:          ids,
				Logf:               func(f string, args ...any) { fmt.Fprintf(a.stderr, f+"\n", args...) },
				OnUnit: func(r *mutate.Report) {
					if save != "" {
						r.Commit, r.Dirty = gitState(c.Root)
						_ = saveReport(r, save)
					}
				},
			})
			if err != nil {
				return err
			}
			rep.Commit, rep.Dirty = gitState(c.Root)
		}
		if save != "" {
			if err := saveReport(rep, save); err != nil {
				return err
			}
		}
		// Saved reports keep gremlins' own verdicts; the explanations are applied each time a report is rendered.
		eqs, err := mutate.LoadEquivalents(c.Root)
		if err != nil {
			return err
		}
		for _, e := range rep.MarkEquivalent(eqs) {
			fmt.Fprintf(a.stderr, "%s: the entry for %s %s `%s` matches no lived mutant of this run (stale after an edit, or not run)\n",
				mutate.EquivalentsFile, e.File, e.Operator, e.Code)
		}
		if !write {
			return rep.WriteMarkdown(a.stdout, "en")
		}
		for lang, name := range map[string]string{"en": "mutation.md", "zh": "mutation.zh-CN.md"} {
			var b bytes.Buffer
			if err := rep.WriteMarkdown(&b, lang); err != nil {
				return err
			}
			path := filepath.Join(c.Root, "docs", name)
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s\n", path)
		}
		return nil
	})
	return cmd
}

func containsChapter(chs []*course.Chapter, ch *course.Chapter) bool {
	for _, c := range chs {
		if c == ch {
			return true
		}
	}
	return false
}

// gitState is the commit the report describes, and whether chapters/ or solutions/ differ from it.
func gitState(root string) (commit string, dirty bool) {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", "chapters", "solutions").Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(st)) > 0
}

func saveReport(r *mutate.Report, path string) error {
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
