package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap holds every binding; helpFor picks the ones that apply to the current screen.
type keyMap struct {
	Up, Down, PrevChapter, NextChapter key.Binding
	Check, CheckChapter, Hint, Lesson  key.Binding
	Diff, Yes, CloseDiff               key.Binding
	Watch, Cancel, Interrupt, Back     key.Binding
	PageUp, PageDown, Help, Quit       key.Binding
}

func newKeyMap(k keyLabels) keyMap {
	return keyMap{
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", k.Up)),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", k.Down)),
		PrevChapter:  key.NewBinding(key.WithKeys("left", "["), key.WithHelp("←/[", k.PrevChapter)),
		NextChapter:  key.NewBinding(key.WithKeys("right", "]"), key.WithHelp("→/]", k.NextChapter)),
		Check:        key.NewBinding(key.WithKeys("enter", "c"), key.WithHelp("enter", k.Check)),
		CheckChapter: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", k.CheckChapter)),
		Hint:         key.NewBinding(key.WithKeys("h"), key.WithHelp("h", k.Hint)),
		Lesson:       key.NewBinding(key.WithKeys("l"), key.WithHelp("l", k.Lesson)),
		Diff:         key.NewBinding(key.WithKeys("d"), key.WithHelp("d", k.Diff)),
		Yes:          key.NewBinding(key.WithKeys("y", "Y")),
		CloseDiff:    key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", k.Back)),
		Watch:        key.NewBinding(key.WithKeys("w"), key.WithHelp("w", k.Watch)),
		Cancel:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", k.Cancel)),
		Interrupt:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", k.Cancel)),
		Back:         key.NewBinding(key.WithKeys("esc", "q", "l"), key.WithHelp("esc", k.Back)),
		PageUp:       key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", k.Scroll)),
		PageDown:     key.NewBinding(key.WithKeys("pgdown", "ctrl+d", " "), key.WithHelp("pgdn", k.Scroll)),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", k.More)),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", k.Quit)),
	}
}

// bindings implements help.KeyMap for one screen.
type bindings struct {
	short []key.Binding
	full  [][]key.Binding
}

func (b bindings) ShortHelp() []key.Binding  { return b.short }
func (b bindings) FullHelp() [][]key.Binding { return b.full }

// helpFor returns the bindings shown for a screen; while a check runs, cancel replaces check.
func (k keyMap) helpFor(s state, running bool) bindings {
	if s == stateLesson || s == stateDiff {
		back := k.Back
		if s == stateDiff {
			back = k.CloseDiff
		}
		return bindings{
			short: []key.Binding{k.Up, k.Down, k.PageDown, back},
			full:  [][]key.Binding{{k.Up, k.Down}, {k.PageUp, k.PageDown}, {back}},
		}
	}
	run := k.Check
	if running {
		run = k.Cancel
	}
	return bindings{
		short: []key.Binding{k.Up, k.Down, run, k.Hint, k.Lesson, k.Diff, k.Watch, k.Help, k.Quit},
		full: [][]key.Binding{
			{k.Up, k.Down, k.PrevChapter, k.NextChapter},
			{k.Check, k.CheckChapter, k.Cancel, k.Watch},
			{k.Hint, k.Lesson, k.Diff, k.PageUp, k.PageDown},
			{k.Help, k.Quit},
		},
	}
}
