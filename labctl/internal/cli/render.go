package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// maxCompileErrors shown per exercise; the rest are counted.
const maxCompileErrors = 8

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

// statusLabel is the status word, padded, coloured on terminals.
func (a *app) statusLabel(s runner.Status) string {
	label := fmt.Sprintf("%-8s", a.t("status."+string(s)))
	if !a.color() {
		return label
	}
	c := ansiYellow
	switch s {
	case runner.StatusPass:
		c = ansiGreen
	case runner.StatusFail, runner.StatusCompileError, runner.StatusTimeout:
		c = ansiRed
	case runner.StatusNotRun:
		c = ansiDim
	}
	return c + label + ansiReset
}

// renderResults prints one line per exercise and, for the ones that did not pass, why.
func (a *app) renderResults(w io.Writer, c *course.Course, results []runner.ExerciseResult) {
	passed := 0
	for _, r := range results {
		title := ""
		if ex := c.Exercise(r.ExerciseID); ex != nil {
			title = a.text(ex.Title)
		}
		fmt.Fprintf(w, "%s %-18s %s\n", a.statusLabel(r.Status), r.ExerciseID, title)
		if r.Status == runner.StatusPass {
			passed++
			continue
		}
		if r.Status == runner.StatusInfraError {
			r.Message = infraText(a.lang, r.Message)
		}
		for _, line := range detailLines(r) {
			fmt.Fprintln(w, "         "+line)
		}
	}
	fmt.Fprintln(w)
	if passed == len(results) {
		fmt.Fprintln(w, a.t("check.all"))
	} else {
		fmt.Fprintln(w, a.t("check.summary", passed, len(results)))
	}
	if outcome(results) == ExitInfra {
		fmt.Fprintln(w, a.t("check.infra"))
	}
}

// detailLines explains a result that is not a pass: compile errors with file:line:col, or the
// first test that did not pass with its message.
func detailLines(r runner.ExerciseResult) []string {
	var out []string
	if r.Status == runner.StatusCompileError {
		for i, ce := range r.CompileErrors {
			if i == maxCompileErrors {
				out = append(out, fmt.Sprintf("... and %d more", len(r.CompileErrors)-i))
				break
			}
			out = append(out, indentLines(compileLine(ce))...)
		}
		return out
	}
	var others []string // the other tests that did not pass: named, so the learner sees the whole to-do list
	for _, t := range r.Tests {
		if t.Status == runner.StatusPass {
			continue
		}
		if out != nil {
			others = append(others, fmt.Sprintf("%s (%s)", t.Name, t.Status))
			continue
		}
		head := fmt.Sprintf("%s: %s", t.Name, t.Status)
		if t.Panic {
			head += " (panic)"
		}
		out = append(out, head)
		out = append(out, indentLines(t.Message)...)
	}
	if len(others) > 0 {
		out = append(out, "also not passing: "+strings.Join(others, ", "))
	}
	if out != nil {
		return out
	}
	if r.Message != "" {
		out = append(out, indentLines(r.Message)...)
	}
	return out
}

func compileLine(ce runner.CompileError) string {
	switch {
	case ce.File == "":
		return ce.Message
	case ce.Col > 0:
		return fmt.Sprintf("chapters/%s:%d:%d: %s", ce.File, ce.Line, ce.Col, ce.Message)
	default:
		return fmt.Sprintf("chapters/%s:%d: %s", ce.File, ce.Line, ce.Message)
	}
}

func indentLines(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return lines
}
