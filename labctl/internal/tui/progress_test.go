package tui_test

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// The status line names the phase of a running check (the lab reports it), so a long compile is not a
// spinner alone.
func TestRunningCheckShowsItsStep(t *testing.T) {
	_, tm := startBlockingCheck(t)
	waitFor(t, tm, "Checking 00-pool · compiling 00 …")
	press(tm, tea.KeyEsc)
	waitFor(t, tm, "Check cancelled.")
	finalView(t, tm)
}
