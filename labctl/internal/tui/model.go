package tui

import (
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// MODEL

// state is the screen on show.
type state int

const (
	stateBrowse state = iota // chapters, exercises and the selected exercise's details
	stateLesson              // a chapter's README, full screen
	stateDiff                // an exercise's diff to its solution, full screen
)

// position locates an exercise: indexes into Course.Chapters and Chapter.Exercises.
type position struct{ chapter, exercise int }

// Model is the top-level bubbletea model. It composes the check runner, the watcher, the lesson pager and
// the detail pane; the maps are only touched from Update, never from a tea.Cmd.
type Model struct {
	lab    Lab
	course *course.Course
	lang   string
	text   labels
	keys   keyMap
	help   help.Model
	bar    progress.Model
	state  state
	width  int
	height int

	order    []position // every exercise, in course order
	cursor   int        // index into order
	statuses map[string]runner.Status
	results  map[string]runner.ExerciseResult
	hints    map[string]map[int]string // hints revealed so far, worded, per exercise and index
	notice   string                    // the last error or event worth a line
	// interrupted: the learner left with ctrl+c, which labctl reports as exit 130, like Ctrl-C elsewhere
	interrupted bool
	staleWas    map[string]runner.Status // for a statusStale exercise: what it was before the cancelled check
	// toFailure: the next detail refresh scrolls to the first thing that did not pass (set when a check ends)
	toFailure bool

	check  checker
	watch  watcher
	detail viewport.Model
	lesson lessonView
	diff   diffView
}

// INIT

// New builds the model and selects where the learner left off: the first exercise that has not passed.
func New(l Lab, lang string) Model {
	lang = normalizeLang(lang)
	t := dictionary[lang]
	c := l.Course()
	if c == nil {
		c = &course.Course{}
	}
	m := Model{
		lab: l, course: c, lang: lang, text: t, keys: newKeyMap(t.Keys), help: help.New(),
		bar: progress.New(progress.WithWidth(barWidth), progress.WithoutPercentage(),
			progress.WithSolidFill("42"), progress.WithColorProfile(lipgloss.ColorProfile())),
		width: 80, height: 24,
		order: exerciseOrder(c), statuses: map[string]runner.Status{},
		results: map[string]runner.ExerciseResult{}, hints: map[string]map[int]string{}, staleWas: map[string]runner.Status{},
		check: newChecker(), detail: viewport.New(80, 10), lesson: newLessonView("dark"), diff: newDiffView(),
	}
	for _, p := range m.order {
		ex := m.exerciseAt(p)
		m.statuses[ex.ID] = l.Status(ex.ID)
		for i, h := range l.RevealedHints(ex.ID) {
			m = m.showHint(hintMsg{exerciseID: ex.ID, index: i + 1, total: len(ex.Hints.En), text: h})
		}
	}
	m.cursor = m.resumeIndex()
	m.layout()
	return m
}

// Interrupted says whether the learner quit with ctrl+c rather than q.
func (m Model) Interrupted() bool { return m.interrupted }

// WithLessonStyle sets the glamour style of lessons ("dark", "light", "notty", ...).
func (m Model) WithLessonStyle(style string) Model {
	m.lesson.style = style
	return m
}

// closeWait bounds how long Close waits for a cancelled check (go test's WaitDelay is 3 s, and the
// infrastructure of the check is stopped after it).
const closeWait = 30 * time.Second

// Close cancels a running check and the watcher, then waits for the check to return, so that no
// go test outlives the program. Run calls it when the program ends.
func (m Model) Close() {
	m.stop()
	m.check.wait(closeWait)
}

// stop cancels a running check and the watcher without waiting: Update must not block.
func (m Model) stop() {
	m.check.stopContext()
	m.watch.stopContext()
}

// Init starts nothing: statuses come from the lab's cache, and work starts on a key.
func (m Model) Init() tea.Cmd { return nil }

func exerciseOrder(c *course.Course) []position {
	var order []position
	for ci, ch := range c.Chapters {
		for ei := range ch.Exercises {
			order = append(order, position{ci, ei})
		}
	}
	return order
}

// resumeIndex is the first exercise whose status is not pass (skipped counts as not passed), else the first one.
func (m Model) resumeIndex() int {
	for i, p := range m.order {
		if m.statuses[m.exerciseAt(p).ID] != runner.StatusPass {
			return i
		}
	}
	return 0
}

func (m Model) exerciseAt(p position) *course.Exercise {
	return m.course.Chapters[p.chapter].Exercises[p.exercise]
}

// selected returns the chapter and exercise under the cursor, or nils when the course is empty.
func (m Model) selected() (*course.Chapter, *course.Exercise) {
	if len(m.order) == 0 {
		return nil, nil
	}
	p := m.order[m.cursor]
	return m.course.Chapters[p.chapter], m.exerciseAt(p)
}

// UPDATE

// Update routes a message to the part of the model that owns it, then refreshes the detail pane.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := m.update(msg)
	m.syncDetail()
	return m, cmd
}

func (m Model) update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, m.rerenderLesson()
	case tea.KeyMsg:
		return m.handleKey(msg)
	case spinner.TickMsg:
		return m.tickSpinner(msg)
	case checkEventMsg:
		return m.handleCheckEvent(msg)
	case checkDoneMsg:
		return m.finishCheck(msg)
	case hintMsg:
		return m.showHint(msg), nil
	case lessonLoadedMsg:
		return m.handleLessonLoaded(msg)
	case lessonRenderedMsg:
		return m.handleLessonRendered(msg), nil
	case diffLoadedMsg:
		return m.handleDiffLoaded(msg), nil
	case watchStartedMsg:
		return m.handleWatchStarted(msg)
	case watchChangeMsg:
		return m.handleWatchChange(msg)
	case watchClosedMsg:
		return m.handleWatchClosed(msg), nil
	}
	return m, nil
}

// handleKey: ctrl+c works everywhere (first cancels a running check, then quits); a pending question takes
// the next key; other keys depend on the screen.
func (m Model) handleKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		// Keys typed faster than the terminal is read ("jjj", a held key over ssh) arrive as one message:
		// each one counts.
		cmds := make([]tea.Cmd, 0, len(msg.Runes))
		for _, r := range msg.Runes {
			var cmd tea.Cmd
			m, cmd = m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
			cmds = append(cmds, cmd)
		}
		return m, tea.Batch(cmds...)
	}
	if key.Matches(msg, m.keys.Interrupt) {
		if m.check.running && !m.check.cancelling {
			return m.cancelCheck(), nil
		}
		m.interrupted = true // the terminal is raw, so Ctrl-C is a key; Run reports it like the signal
		return m.quit()
	}
	if m.diff.confirming != "" {
		return m.updateConfirm(msg)
	}
	if key.Matches(msg, m.keys.Help) {
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
		return m, nil
	}
	switch m.state {
	case stateLesson:
		return m.updateLesson(msg)
	case stateDiff:
		return m.updateDiff(msg)
	}
	return m.updateBrowse(msg)
}

func (m Model) quit() (Model, tea.Cmd) {
	m.stop()
	return m, tea.Quit
}
