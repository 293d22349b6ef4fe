package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// The frame around every screen: sizes for the current terminal, the header, the status line and the help bar.

// wideWidth is where the chapter and exercise panes start to sit side by side.
const wideWidth = 90

// frame is the browse screen's geometry for the current terminal size.
type frame struct {
	wide                  bool
	leftW, rightW         int // pane widths when wide; both equal the full width when stacked
	chaptersH, exercisesH int // pane heights, headings included (equal when wide)
	detailH               int
}

// LAYOUT

func (m Model) frame() frame {
	avail := max(m.height-3-m.helpHeight(), 3) // header, rule and status line take one row each
	maxEx := 0
	for _, ch := range m.course.Chapters {
		maxEx = max(maxEx, len(ch.Exercises))
	}
	chaptersWant, exercisesWant := 1+len(m.course.Chapters), 1+maxEx
	f := frame{wide: m.width >= wideWidth, leftW: m.width, rightW: m.width}
	if f.wide {
		f.leftW = m.width * 9 / 20
		f.rightW = m.width - f.leftW - 2
		top := min(max(chaptersWant, exercisesWant), avail*3/5)
		f.chaptersH, f.exercisesH = top, top
		f.detailH = avail - top
		return f
	}
	f.chaptersH = min(chaptersWant, avail/3)
	f.exercisesH = min(exercisesWant, avail/3)
	f.detailH = avail - f.chaptersH - f.exercisesH
	return f
}

// layout sizes the viewports after a resize or a help toggle.
func (m *Model) layout() {
	m.help.Width = m.width
	f := m.frame()
	m.detail.Width, m.detail.Height = m.width, max(f.detailH, 1)
	m.lesson.vp.Width, m.lesson.vp.Height = m.width, max(m.height-2-m.helpHeight(), 1)
	m.diff.vp.Width, m.diff.vp.Height = m.lesson.vp.Width, m.lesson.vp.Height
}

func (m Model) helpHeight() int {
	return lipgloss.Height(m.helpView())
}

// minWidth and minHeight are the smallest terminal the screens are drawn for: below, panes and help
// would be cut to nonsense, so the UI says what it needs instead.
const (
	minWidth  = 40
	minHeight = 12
)

// tooSmall says the terminal is too small, wrapped to its width and cut to its height.
func (m Model) tooSmall() string {
	msg := fmt.Sprintf(m.text.TooSmall, m.width, m.height, minWidth, minHeight)
	lines := strings.Split(lipgloss.NewStyle().Width(m.width).Render(msg), "\n")
	for i := range lines {
		lines[i] = fit(lines[i], m.width)
	}
	return strings.Join(lines[:min(len(lines), m.height)], "\n")
}

// VIEW

// View draws the current screen.
func (m Model) View() string {
	if m.width < 1 || m.height < 1 {
		return "" // no room at all (a 0x0 size comes from non-terminals)
	}
	if m.width < minWidth || m.height < minHeight {
		return m.tooSmall()
	}
	switch m.state {
	case stateLesson:
		return m.lessonScreen()
	case stateDiff:
		return m.diffScreen()
	}
	return m.browseScreen()
}

func (m Model) browseScreen() string {
	f := m.frame()
	chapters, cc := m.chapterRows(f.leftW)
	exercises, ec := m.exerciseRows(f.rightW)
	left := paneText(window(chapters, cc, f.chaptersH), f.leftW, f.chaptersH)
	right := paneText(window(exercises, ec, f.exercisesH), f.rightW, f.exercisesH)
	top := left + "\n" + right
	if f.wide {
		top = lipgloss.JoinHorizontal(lipgloss.Top, left, "  ", right)
	}
	parts := []string{m.header(), top, m.rule(), m.detail.View(), m.statusLine(), m.helpView()}
	return strings.Join(parts, "\n")
}

// header is the title on the left and the watch state on the right.
func (m Model) header() string {
	watch := m.text.WatchOff
	if m.watch.on {
		watch = m.text.WatchOn + " (" + m.watch.chapterID + ")"
	}
	title := titleStyle.Render(m.text.Title)
	gap := m.width - lipgloss.Width(title) - lipgloss.Width(watch)
	if gap < 1 {
		return fit(title, m.width)
	}
	return title + strings.Repeat(" ", gap) + dimStyle.Render(watch)
}

func (m Model) rule() string {
	return ruleStyle.Render(strings.Repeat("─", max(m.width, 0)))
}

// statusLine shows a pending question, else the running check's spinner, else the last notice.
func (m Model) statusLine() string {
	var s string
	switch {
	case m.diff.confirming != "":
		s = hintStyle.Render(m.confirmLine())
	case m.check.cancelling:
		s = m.check.spinner.View() + " " + m.text.Cancelling
	case m.check.running:
		s = m.check.spinner.View() + " " + m.text.Checking + " " + strings.Join(m.check.targets, ", ")
		if step := m.check.stepStatus(m.text, time.Now()); step != "" {
			s += " · " + step
		}
		s += dimStyle.Render(" (" + m.text.CancelHint + ")")
	default:
		s = errorStyle.Render(m.notice)
	}
	return fit(s, m.width)
}

func (m Model) helpView() string {
	k := m.keys
	if m.help.ShowAll {
		k.Help.SetHelp("?", m.text.Keys.Less)
	}
	// bubbles/help still prints an item that does not fit when even its "…" would not: clip each line.
	lines := strings.Split(m.help.View(k.helpFor(m.state, m.check.running)), "\n")
	for i, line := range lines {
		lines[i] = ansi.Truncate(line, max(m.width, 0), "…")
	}
	return strings.Join(lines, "\n")
}

// fit truncates s (ANSI-aware, wide characters counted as two cells) to w cells and pads it to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	return s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
}
