package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// The solution diff screen: the selected exercise's unified diff from the learner's files to the
// reference solution, read-only. Before an exercise passes, looking is giving up, so it asks first.

// tabWidth is how many spaces a tab in the diff stands for: the viewport measures tabs as zero cells.
const tabWidth = 4

// MSG

// diffLoadedMsg is the answer to Lab.SolutionDiff.
type diffLoadedMsg struct {
	exerciseID, diff string
	err              error
}

// MODEL

type diffView struct {
	confirming string // the exercise whose diff waits for a yes, "" when not asking
	exerciseID string // the exercise on show
	title      string
	vp         viewport.Model
}

func newDiffView() diffView {
	return diffView{vp: viewport.New(80, 20)}
}

// UPDATE

// askDiff opens the diff of a passed exercise at once, and asks first for any other.
func (m Model) askDiff(ex *course.Exercise) (Model, tea.Cmd) {
	if m.statuses[ex.ID] == runner.StatusPass {
		return m.openDiff(ex)
	}
	m.diff.confirming = ex.ID
	return m, nil
}

// updateConfirm answers the question: y shows the diff, any other key (N is the default) drops it.
func (m Model) updateConfirm(msg tea.KeyMsg) (Model, tea.Cmd) {
	id := m.diff.confirming
	m.diff.confirming = ""
	if !key.Matches(msg, m.keys.Yes) {
		return m, nil
	}
	if ex := m.course.Exercise(id); ex != nil {
		return m.openDiff(ex)
	}
	return m, nil
}

// openDiff loads the diff afresh every time: the learner's files may have changed since.
func (m Model) openDiff(ex *course.Exercise) (Model, tea.Cmd) {
	m.state = stateDiff
	m.diff.exerciseID = ex.ID
	m.diff.title = ex.ID + " · " + pick(ex.Title, m.lang)
	m.diff.vp.SetContent(dimStyle.Render(m.text.Loading))
	m.diff.vp.GotoTop()
	return m, solutionDiffCmd(m.lab, ex.ID)
}

func (m Model) updateDiff(msg tea.KeyMsg) (Model, tea.Cmd) {
	if key.Matches(msg, m.keys.CloseDiff) {
		m.state = stateBrowse
		return m, nil
	}
	var cmd tea.Cmd
	m.diff.vp, cmd = m.diff.vp.Update(msg)
	return m, cmd
}

// handleDiffLoaded shows the diff unless the learner has left the screen or moved to another exercise.
func (m Model) handleDiffLoaded(msg diffLoadedMsg) Model {
	if m.state != stateDiff || msg.exerciseID != m.diff.exerciseID {
		return m
	}
	switch {
	case msg.err != nil:
		m.diff.vp.SetContent(errorStyle.Render(m.text.DiffFailed + ": " + msg.err.Error()))
	case strings.TrimSpace(msg.diff) == "":
		m.diff.vp.SetContent(dimStyle.Render(m.text.SameAsSolution))
	default:
		m.diff.vp.SetContent(colorDiff(msg.diff))
	}
	return m
}

// VIEW

func (m Model) diffScreen() string {
	header := fit(titleStyle.Render(m.text.SolutionDiff+" "+m.diff.title), m.width)
	return header + "\n" + m.diff.vp.View() + "\n" + m.helpView()
}

// confirmLine is the question asked before showing the solution of an exercise not yet passed.
func (m Model) confirmLine() string {
	return fmt.Sprintf(m.text.ConfirmDiff, m.diff.confirming)
}

// colorDiff styles a unified diff line by line: file headers bold, hunk headers dim, additions in the
// pass colour, removals in the error colour. Tabs become spaces so that widths are measured right.
func colorDiff(diff string) string {
	lines := strings.Split(strings.TrimRight(diff, "\n"), "\n")
	for i, line := range lines {
		line = strings.ReplaceAll(line, "\t", strings.Repeat(" ", tabWidth))
		switch {
		case strings.HasPrefix(line, "+++ "), strings.HasPrefix(line, "--- "):
			line = titleStyle.Render(line)
		case strings.HasPrefix(line, "@@"):
			line = dimStyle.Render(line)
		case strings.HasPrefix(line, "+"):
			line = statusLooks[runner.StatusPass].style.Render(line)
		case strings.HasPrefix(line, "-"):
			line = errorStyle.Render(line)
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// COMMANDS

func solutionDiffCmd(l Lab, exerciseID string) tea.Cmd {
	return func() tea.Msg {
		diff, err := l.SolutionDiff(exerciseID)
		return diffLoadedMsg{exerciseID: exerciseID, diff: diff, err: err}
	}
}
