package tui_test

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/gomicrolab/microlab/labctl/internal/runner"
	"github.com/gomicrolab/microlab/labctl/internal/tui/testdata/fakelab"
)

// Keys typed faster than the UI reads arrive as one message with several runes: each must count.
func TestSeveralKeysInOneRead(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("]k")}) // next chapter, then up: back to 00's last exercise
	view := finalView(t, tm)
	if got := selectedRows(view); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "00-errgroup") {
		t.Errorf("after \"]k\" in one read the selected rows are %q, want 00-errgroup (both keys applied)", got)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

// After a check, the detail pane opens at the first test that did not pass, even below many passes.
func TestCheckScrollsToFirstFailure(t *testing.T) {
	l := fakelab.New()
	r := runner.ExerciseResult{ExerciseID: "00-pool", Status: runner.StatusFail}
	for i := range 30 {
		r.Tests = append(r.Tests, runner.TestResult{Name: fmt.Sprintf("TestPoolCase%02d", i), Status: runner.StatusPass})
	}
	r.Tests = append(r.Tests, runner.TestResult{Name: "TestPoolOrder", Status: runner.StatusFail, Message: "Pool(3) = [3 1 2], want [1 2 3]"})
	l.SetResult(r)
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	press(tm, tea.KeyEnter)
	waitFor(t, tm, "TestPoolOrder")
	view := finalView(t, tm)
	if !strings.Contains(view, "Pool(3) = [3 1 2], want [1 2 3]") {
		t.Errorf("the view after the check does not show the failing test's message (31st test of 31):\n%s", view)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

// A cancelled check leaves no old status looking current: a pass from before is "stale", not a pass.
func TestCancelledCheckMarksPassStale(t *testing.T) {
	l := fakelab.New()
	l.SetBlocking(true)
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("k") // 00-cancel, which passed before
	press(tm, tea.KeyEnter)
	if _, err := l.WaitCheck(waitLimit); err != nil {
		t.Fatal(err)
	}
	press(tm, tea.KeyEsc)
	waitFor(t, tm, "Check cancelled.")
	view := finalView(t, tm)
	if strings.Contains(view, "✓ passed") || !strings.Contains(view, "status from before (passed)") {
		t.Errorf("after cancelling the check of a passed exercise, want it stale and no \"✓ passed\":\n%s", view)
	}
	if !strings.Contains(view, "0/3") {
		t.Errorf("chapter 00 progress after the cancel, want 0/3 (a stale pass does not count):\n%s", view)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

// Below the smallest usable size the UI says what it needs instead of drawing cut-off panes.
func TestTerminalTooSmall(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Send(tea.WindowSizeMsg{Width: 36, Height: 10})
	waitFor(t, tm, "Terminal too small")
	view := finalView(t, tm)
	if !strings.Contains(view, "(36×10)") || !strings.Contains(view, "40×12") {
		t.Errorf("too-small view = %q, want the current size and the size needed", view)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}
