package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// The browse screen: the chapter list with progress bars and the selected chapter's exercises.

const barWidth = 10

// UPDATE

func (m Model) updateBrowse(msg tea.KeyMsg) (Model, tea.Cmd) {
	k := m.keys
	ch, ex := m.selected()
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Cancel):
		if m.check.running {
			return m.cancelCheck(), nil
		}
	case key.Matches(msg, k.Up):
		m = m.moveExercise(-1)
	case key.Matches(msg, k.Down):
		m = m.moveExercise(1)
	case key.Matches(msg, k.PrevChapter):
		m = m.moveChapter(-1)
	case key.Matches(msg, k.NextChapter):
		m = m.moveChapter(1)
	case ex == nil:
		return m, nil
	case key.Matches(msg, k.Check):
		return m.startCheck([]*course.Exercise{ex})
	case key.Matches(msg, k.CheckChapter):
		return m.startCheck(ch.Exercises)
	case key.Matches(msg, k.Hint):
		return m, nextHintCmd(m.lab, ex.ID)
	case key.Matches(msg, k.Lesson):
		return m.openLesson(ch)
	case key.Matches(msg, k.Diff):
		return m.askDiff(ex)
	case key.Matches(msg, k.Watch):
		return m.toggleWatch(ch)
	case key.Matches(msg, k.PageUp):
		m.detail.PageUp()
	case key.Matches(msg, k.PageDown):
		m.detail.PageDown()
	}
	return m, nil
}

func (m Model) moveExercise(delta int) Model {
	if n := len(m.order); n > 0 {
		m.cursor = max(0, min(n-1, m.cursor+delta))
		m.detail.GotoTop()
	}
	return m
}

// moveChapter jumps to the first exercise of the next (or previous) chapter that has exercises.
func (m Model) moveChapter(delta int) Model {
	if len(m.order) == 0 {
		return m
	}
	current := m.order[m.cursor].chapter
	for i := m.cursor; i >= 0 && i < len(m.order); i += delta {
		if c := m.order[i].chapter; c != current {
			m.cursor = i - m.order[i].exercise // first exercise of chapter c
			m.detail.GotoTop()
			return m
		}
	}
	return m
}

// VIEW

// chapterRows renders the chapter pane: a heading, then one line per chapter with its progress.
func (m Model) chapterRows(width int) (rows []string, cursorRow int) {
	rows = []string{titleStyle.Render(m.text.Chapters)}
	sel, _ := m.selected()
	for _, ch := range m.course.Chapters {
		passed, total := m.chapterProgress(ch)
		count := fmt.Sprintf("%d/%d", passed, total)
		bar := m.bar.ViewAs(ratio(passed, total))
		titleW := width - 2 - len(ch.ID) - 1 - barWidth - 1 - len(count) - 1
		line := ch.ID + " " + fit(pick(ch.Title, m.lang), titleW) + " " + bar + " " + count
		if titleW < 4 { // too narrow for a title: keep the id and the progress
			line = ch.ID + " " + bar + " " + count
		}
		rows = append(rows, marker(ch == sel, line))
		if ch == sel {
			cursorRow = len(rows) - 1
		}
	}
	return rows, cursorRow
}

// exerciseRows renders the exercise pane for the selected chapter, each exercise with its status.
func (m Model) exerciseRows(width int) (rows []string, cursorRow int) {
	rows = []string{titleStyle.Render(m.text.Exercises)}
	ch, sel := m.selected()
	if ch == nil {
		return append(rows, dimStyle.Render(m.text.NoExercises)), 0
	}
	idW := 0
	for _, ex := range ch.Exercises {
		idW = max(idW, len(ex.ID))
	}
	for _, ex := range ch.Exercises {
		badge := statusBadge(m.statuses[ex.ID], m.text)
		titleW := width - 2 - idW - 1 - badgeWidth - 1
		line := fit(ex.ID, idW) + " " + fit(pick(ex.Title, m.lang), titleW) + " " + badge
		if titleW < 4 {
			line = fit(ex.ID, idW) + " " + badge
		}
		rows = append(rows, marker(ex == sel, line))
		if ex == sel {
			cursorRow = len(rows) - 1
		}
	}
	return rows, cursorRow
}

// badgeWidth fits the widest status badge of either language ("✗ compile error").
const badgeWidth = 15

// chapterProgress counts passed exercises; skipped and not-run never count.
func (m Model) chapterProgress(ch *course.Chapter) (passed, total int) {
	for _, ex := range ch.Exercises {
		if m.statuses[ex.ID] == runner.StatusPass {
			passed++
		}
	}
	return passed, len(ch.Exercises)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// marker prefixes the selected row with an arrow and highlights it.
func marker(selected bool, line string) string {
	if selected {
		return selectedStyle.Render("▸ ") + line
	}
	return "  " + line
}

// window keeps at most height rows, sliding so that the cursor row stays visible; row 0 (the heading) stays.
func window(rows []string, cursorRow, height int) []string {
	if len(rows) <= height || height < 2 {
		return rows[:min(len(rows), max(height, 0))]
	}
	body, visible := rows[1:], height-1
	start := max(0, min(cursorRow-1-visible/2, len(body)-visible))
	return append([]string{rows[0]}, body[start:start+visible]...)
}

// paneText joins rows into a block of exactly width x height.
func paneText(rows []string, width, height int) string {
	out := make([]string, height)
	for i := range out {
		if i < len(rows) {
			out[i] = fit(rows[i], width)
		} else {
			out[i] = strings.Repeat(" ", width)
		}
	}
	return strings.Join(out, "\n")
}
