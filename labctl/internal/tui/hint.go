package tui

import (
	"maps"
	"slices"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// Hints are revealed one at a time, on request; the lab remembers how many were shown.

// MSG

// hintMsg is the answer to Lab.NextHint. index is 1-based.
type hintMsg struct {
	exerciseID   string
	index, total int
	text         course.Text
	err          error
}

// UPDATE

func (m Model) showHint(msg hintMsg) Model {
	if msg.err != nil {
		m.notice = m.text.HintFailed + ": " + msg.err.Error()
		return m
	}
	// Keyed by index: answers to quick key presses may arrive out of order, and the lab may repeat the last hint.
	if m.hints[msg.exerciseID] == nil {
		m.hints[msg.exerciseID] = map[int]string{}
	}
	m.hints[msg.exerciseID][msg.index] = m.hintLine(msg.index, msg.total, msg.text)
	m.notice = ""
	return m
}

// revealedHints returns the exercise's hints in order.
func (m Model) revealedHints(exerciseID string) []string {
	shown := m.hints[exerciseID]
	indexes := slices.Sorted(maps.Keys(shown))
	lines := make([]string, len(indexes))
	for i, idx := range indexes {
		lines[i] = shown[idx]
	}
	return lines
}

// COMMANDS

func nextHintCmd(l Lab, exerciseID string) tea.Cmd {
	return func() tea.Msg {
		index, total, text, err := l.NextHint(exerciseID)
		return hintMsg{exerciseID: exerciseID, index: index, total: total, text: text, err: err}
	}
}
