package tui

import (
	"context"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// Watch mode: the lab reports debounced file changes in a chapter, and each one re-runs the check.

// MSG

type watchStartedMsg struct {
	id      int
	changes <-chan string
	err     error
}

type watchChangeMsg struct {
	id      int
	path    string
	changes <-chan string
}

// watchClosedMsg: the lab closed the change channel (its context ended or it failed).
type watchClosedMsg struct{ id int }

// MODEL

type watcher struct {
	id        int // tells a stopped watch's messages from the current one's
	on        bool
	chapterID string
	cancel    context.CancelFunc
	pending   bool // a change arrived during a check: run again when it ends
}

func (w watcher) stopContext() {
	if w.cancel != nil {
		w.cancel()
	}
}

// UPDATE

func (m Model) toggleWatch(ch *course.Chapter) (Model, tea.Cmd) {
	m.watch.stopContext()
	m.watch.id++
	if m.watch.on {
		m.watch = watcher{id: m.watch.id}
		return m, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.watch = watcher{id: m.watch.id, on: true, chapterID: ch.ID, cancel: cancel}
	return m, startWatchCmd(ctx, m.lab, m.watch.id, ch.ID)
}

func (m Model) handleWatchStarted(msg watchStartedMsg) (Model, tea.Cmd) {
	if msg.id != m.watch.id {
		return m, nil
	}
	if msg.err != nil {
		m.watch.stopContext()
		m.watch = watcher{id: m.watch.id}
		m.notice = m.text.WatchFailed + ": " + msg.err.Error()
		return m, nil
	}
	return m, waitChangeCmd(msg.id, msg.changes)
}

// handleWatchChange re-runs the check, or queues one run if a check is under way.
func (m Model) handleWatchChange(msg watchChangeMsg) (Model, tea.Cmd) {
	if msg.id != m.watch.id || !m.watch.on {
		return m, nil
	}
	next := waitChangeCmd(msg.id, msg.changes)
	if m.check.running {
		m.watch.pending = true
		return m, next
	}
	m, check := m.checkWatched()
	m.notice = m.text.Changed + ": " + msg.path
	return m, tea.Batch(next, check)
}

func (m Model) handleWatchClosed(msg watchClosedMsg) Model {
	if msg.id == m.watch.id && m.watch.on {
		m.watch.stopContext()
		m.watch = watcher{id: m.watch.id}
	}
	return m
}

// checkWatched checks the selected exercise when it belongs to the watched chapter, else the whole chapter.
func (m Model) checkWatched() (Model, tea.Cmd) {
	ch := m.course.Chapter(m.watch.chapterID)
	if ch == nil {
		return m, nil
	}
	if sel, ex := m.selected(); sel == ch {
		return m.startCheck([]*course.Exercise{ex})
	}
	return m.startCheck(ch.Exercises)
}

// COMMANDS

func startWatchCmd(ctx context.Context, l Lab, id int, chapterID string) tea.Cmd {
	return func() tea.Msg {
		changes, err := l.Watch(ctx, chapterID)
		return watchStartedMsg{id: id, changes: changes, err: err}
	}
}

// waitChangeCmd waits for the next change; the lab closes the channel when the watch's context ends.
func waitChangeCmd(id int, changes <-chan string) tea.Cmd {
	return func() tea.Msg {
		path, ok := <-changes
		if !ok {
			return watchClosedMsg{id: id}
		}
		return watchChangeMsg{id: id, path: path, changes: changes}
	}
}
