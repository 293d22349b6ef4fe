// Package tui is the terminal UI of labctl: a bubbletea program that lists chapters and exercises with their
// progress, runs checks with live output, hands out hints, shows lessons and compares the learner's work with the solution. It never runs processes itself:
// every piece of work goes through the Lab interface, inside a tea.Cmd.
package tui

import (
	"context"
	"errors"
	"fmt"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Lab is what the UI needs from the application layer (*lab.Lab satisfies it).
// Check must return promptly once ctx is cancelled, with StatusNotRun for what did not run, and call
// opts.Logf only before it returns. Watch must close its channel when ctx ends.
type Lab interface {
	Course() *course.Course
	Check(ctx context.Context, exercises []*course.Exercise, opts CheckOptions,
		events chan<- runner.Event) ([]runner.ExerciseResult, error)
	Status(exerciseID string) runner.Status
	NextHint(exerciseID string) (index, total int, hint course.Text, err error) // index is 1-based
	RevealedHints(exerciseID string) []course.Text                              // from earlier sessions, in order
	Lesson(chapterID, lang string) (markdown string, err error)
	Watch(ctx context.Context, chapterID string) (<-chan string, error)
	SolutionDiff(target string) (string, error) // unified diff learner -> solution; reads only
}

// Run shows the UI on the terminal until the learner quits or ctx is cancelled.
// lang is "en" or "zh" (anything starting with "zh" counts as Chinese).
func Run(ctx context.Context, l Lab, lang string) error {
	m := New(l, lang).WithLessonStyle(detectLessonStyle())
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithAltScreen())
	final, err := p.Run()
	fm, ok := final.(Model)
	if ok {
		fm.Close()
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("tui: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	if ok && fm.Interrupted() {
		return fmt.Errorf("tui: ctrl+c: %w", context.Canceled)
	}
	return nil
}

// detectLessonStyle picks a glamour style before the program owns the terminal:
// querying the background colour later would race with bubbletea's input reader.
func detectLessonStyle() string {
	if !term.IsTerminal(os.Stdout.Fd()) {
		return "notty"
	}
	if lipgloss.HasDarkBackground() {
		return "dark"
	}
	return "light"
}
