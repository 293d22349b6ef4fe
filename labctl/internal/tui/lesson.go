package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/lipgloss"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// The lesson screen: a chapter's README rendered by glamour in a scrollable viewport.

// maxLessonWidth keeps prose readable on very wide terminals.
const maxLessonWidth = 100

// MSG

type lessonLoadedMsg struct {
	chapterID, markdown string
	err                 error
}

type lessonRenderedMsg struct {
	chapterID, text string
	width           int
	err             error
}

// MODEL

type lessonView struct {
	style     string // glamour standard style
	chapterID string // the chapter whose markdown is loaded
	title     string
	markdown  string
	width     int // the width the viewport content was rendered for
	vp        viewport.Model
}

func newLessonView(style string) lessonView {
	return lessonView{style: style, vp: viewport.New(80, 20)}
}

// UPDATE

// openLesson shows the chapter's lesson, loading it unless it is the one already loaded.
func (m Model) openLesson(ch *course.Chapter) (Model, tea.Cmd) {
	m.state = stateLesson
	if m.lesson.chapterID == ch.ID && m.lesson.markdown != "" {
		return m, m.rerenderLesson()
	}
	m.lesson.chapterID, m.lesson.markdown, m.lesson.width = ch.ID, "", 0
	m.lesson.title = ch.ID + " · " + pick(ch.Title, m.lang)
	m.lesson.vp.SetContent(dimStyle.Render(m.text.Loading))
	return m, loadLessonCmd(m.lab, ch.ID, m.lang)
}

func (m Model) updateLesson(msg tea.KeyMsg) (Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Back) {
		m.state = stateBrowse
		return m, nil
	}
	var cmd tea.Cmd
	m.lesson.vp, cmd = m.lesson.vp.Update(msg)
	return m, cmd
}

func (m Model) handleLessonLoaded(msg lessonLoadedMsg) (Model, tea.Cmd) {
	if msg.chapterID != m.lesson.chapterID {
		return m, nil
	}
	if msg.err != nil {
		m.lesson.vp.SetContent(errorStyle.Render(m.text.LessonFailed + ": " + msg.err.Error()))
		return m, nil
	}
	m.lesson.markdown = msg.markdown
	return m, m.rerenderLesson()
}

func (m Model) handleLessonRendered(msg lessonRenderedMsg) Model {
	if msg.chapterID != m.lesson.chapterID {
		return m
	}
	if msg.err != nil {
		m.lesson.vp.SetContent(errorStyle.Render(m.text.LessonFailed + ": " + msg.err.Error()))
		return m
	}
	m.lesson.width = msg.width
	m.lesson.vp.SetContent(msg.text)
	return m
}

// rerenderLesson renders again when the lesson is on screen and the width changed.
func (m Model) rerenderLesson() tea.Cmd {
	w := min(m.width, maxLessonWidth)
	if m.state != stateLesson || m.lesson.markdown == "" || m.lesson.width == w {
		return nil
	}
	return renderLessonCmd(m.lesson.chapterID, m.lesson.markdown, m.lesson.style, w)
}

// VIEW

func (m Model) lessonScreen() string {
	header := fit(titleStyle.Render(m.text.Lesson+" "+m.lesson.title), m.width)
	return header + "\n" + m.lesson.vp.View() + "\n" + m.helpView()
}

// COMMANDS

func loadLessonCmd(l Lab, chapterID, lang string) tea.Cmd {
	return func() tea.Msg {
		md, err := l.Lesson(chapterID, lang)
		return lessonLoadedMsg{chapterID: chapterID, markdown: md, err: err}
	}
}

func renderLessonCmd(chapterID, markdown, style string, width int) tea.Cmd {
	return func() tea.Msg {
		r, err := glamour.NewTermRenderer(
			glamour.WithStandardStyle(style),
			glamour.WithWordWrap(max(width-4, 20)),
			glamour.WithColorProfile(lipgloss.ColorProfile()),
		)
		if err != nil {
			return lessonRenderedMsg{chapterID: chapterID, err: fmt.Errorf("lesson renderer: %w", err)}
		}
		out, err := r.Render(markdown)
		if err != nil {
			err = fmt.Errorf("render lesson %s: %w", chapterID, err)
		}
		return lessonRenderedMsg{chapterID: chapterID, text: out, width: width, err: err}
	}
}
