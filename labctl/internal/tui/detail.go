package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// The detail pane: the selected exercise, its revealed hints, and either the live output of a running
// check or the per-test results of the last one.

// outputTail is how many output lines stand in for a failing test that gave no message.
const outputTail = 8

// syncDetail refreshes the pane's content; while a check streams, it follows the newest line.
func (m *Model) syncDetail() {
	content := lipgloss.NewStyle().Width(max(m.detail.Width, 1)).Render(m.detailContent())
	m.detail.SetContent(content)
	_, ex := m.selected()
	if ex != nil && m.check.running && m.check.covers(ex.ID) {
		m.detail.GotoBottom()
	}
	if m.toFailure && ex != nil {
		m.toFailure = false
		if line := firstFailureLine(content, m.results[ex.ID], m.text); line >= 0 {
			m.detail.SetYOffset(line) // a long list of passes must not hide the one that failed
		}
	}
}

// firstFailureLine is the line of the rendered detail where the first compile error or test that did not
// pass begins, or -1.
func firstFailureLine(content string, r runner.ExerciseResult, t labels) int {
	want := ""
	switch {
	case len(r.CompileErrors) > 0:
		want = t.CompileErrors
	default:
		for _, tr := range r.Tests {
			if tr.Status != runner.StatusPass {
				want = statusLooks[tr.Status].icon + " " + tr.Name + " "
				break
			}
		}
	}
	if want == "" {
		return -1
	}
	for i, line := range strings.Split(content, "\n") {
		if strings.HasPrefix(ansi.Strip(line), want) {
			return i
		}
	}
	return -1
}

func (m Model) detailContent() string {
	_, ex := m.selected()
	if ex == nil {
		return dimStyle.Render(m.text.NoExercises)
	}
	parts := []string{titleStyle.Render(ex.ID+" · "+pick(ex.Title, m.lang)) + "  " + statusBadge(m.statuses[ex.ID], m.text)}
	for _, h := range m.revealedHints(ex.ID) {
		parts = append(parts, hintStyle.Render(h))
	}
	r, checked := m.results[ex.ID]
	switch {
	case m.check.running && m.check.covers(ex.ID):
		parts = append(parts, headingStyle.Render(m.text.Output), strings.Join(m.check.lines, "\n"))
	case m.statuses[ex.ID] == statusStale:
		parts = append(parts, dimStyle.Render(fmt.Sprintf(m.text.StaleNote, m.text.Status[m.staleWas[ex.ID]])))
	case checked:
		parts = append(parts, m.resultText(r))
	case m.statuses[ex.ID] != "" && m.statuses[ex.ID] != runner.StatusNotRun:
		// The status comes from the progress cache of an earlier run; its details are not kept.
		parts = append(parts, dimStyle.Render(m.text.CheckedBefore))
	default:
		parts = append(parts, dimStyle.Render(m.text.NotChecked))
	}
	return strings.Join(parts, "\n")
}

// resultText gives the exercise's own explanation (why no test could speak for it), compile errors
// (nothing else is meaningful then), then each test with its message.
func (m Model) resultText(r runner.ExerciseResult) string {
	var b strings.Builder
	if r.Message != "" && len(r.CompileErrors) == 0 {
		b.WriteString(r.Message + "\n")
	}
	if len(r.CompileErrors) > 0 {
		b.WriteString(headingStyle.Render(m.text.CompileErrors) + "\n")
		for _, ce := range r.CompileErrors {
			fmt.Fprintf(&b, "  %s:%d:%d: %s\n", ce.File, ce.Line, ce.Col, ce.Message)
		}
	}
	if len(r.Tests) > 0 {
		b.WriteString(headingStyle.Render(m.text.Results) + "\n")
	}
	for _, t := range r.Tests {
		fmt.Fprintf(&b, "%s %s %s\n", statusIcon(t.Status), t.Name, dimStyle.Render(fmt.Sprintf("%.2fs", t.Elapsed.Seconds())))
		if why := testExplanation(t); why != "" {
			b.WriteString(indent(why, "    ") + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// testExplanation is the failing assertion's message, or the tail of the output when there is none.
func testExplanation(t runner.TestResult) string {
	if t.Status == runner.StatusPass {
		return ""
	}
	if t.Message != "" {
		return t.Message
	}
	lines := strings.Split(strings.TrimRight(t.Output, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-outputTail):], "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// hintLine words a hint as "Hint 2/3: ...".
func (m Model) hintLine(index, total int, text course.Text) string {
	return fmt.Sprintf("%s %d/%d: %s", m.text.Hint, index, total, pick(text, m.lang))
}
