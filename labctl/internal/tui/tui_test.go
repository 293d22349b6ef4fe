package tui_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/tui"
	"github.com/gomicrolab/microlab/labctl/internal/tui/testdata/fakelab"
)

// The application layer satisfies the UI's interface as it is: no adapter in between.
var _ tui.Lab = (*lab.Lab)(nil)

// The screen size every golden file is drawn at.
const (
	termWidth  = 100
	termHeight = 30
	waitLimit  = 5 * time.Second
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii) // goldens hold text, not colours
	os.Exit(m.Run())
}

// start runs the UI on the fake lab at the fixed terminal size.
func start(t *testing.T, l *fakelab.Lab, lang string) *teatest.TestModel {
	t.Helper()
	m := tui.New(l, lang).WithLessonStyle("notty")
	return teatest.NewTestModel(t, m, teatest.WithInitialTermSize(termWidth, termHeight))
}

// waitFor waits until the screen has printed every want since the last wait
// (output read by one wait is gone for the next, so text drawn in one frame is awaited together).
func waitFor(t *testing.T, tm *teatest.TestModel, wants ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, want := range wants {
			if !bytes.Contains(b, []byte(want)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(waitLimit), teatest.WithCheckInterval(10*time.Millisecond))
}

// finalView quits and returns the last frame the model would draw.
func finalView(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatalf("Quit() = %v", err)
	}
	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(waitLimit)).(tui.Model)
	if !ok {
		t.Fatal("FinalModel() is not a tui.Model")
	}
	fm.Close()
	return fm.View()
}

func press(tm *teatest.TestModel, keys ...tea.KeyType) {
	for _, k := range keys {
		tm.Send(tea.KeyMsg{Type: k})
	}
}

func TestStartScreenResumesAtFirstUnpassedExercise(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	view := finalView(t, tm)
	if !strings.Contains(view, "▸ 00-pool") {
		t.Errorf("start screen selects %q, want the cursor on 00-pool (00-cancel passed)", selectedRows(view))
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

func TestFailingCheckShowsAssertionMessage(t *testing.T) {
	l := fakelab.New()
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	press(tm, tea.KeyEnter)
	waitFor(t, tm, "Results")
	view := finalView(t, tm)
	if got, want := l.Checks(), [][]string{{"00-pool"}}; !equalChecks(got, want) {
		t.Errorf("Check calls = %v, want %v", got, want)
	}
	if !strings.Contains(view, "want [1 2 3] (results in input order)") {
		t.Errorf("view after a failing check lacks the assertion message:\n%s", view)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

func TestHintsRevealedOneAtATime(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("h")
	waitFor(t, tm, "Hint 1/2")
	tm.Type("h")
	waitFor(t, tm, "Hint 2/2")
	view := finalView(t, tm)
	first, second := strings.Index(view, "Hint 1/2"), strings.Index(view, "Hint 2/2")
	if first < 0 || second < first {
		t.Errorf("hints in view at %d and %d, want 1/2 before 2/2", first, second)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

func TestHintsFromEarlierSessionsShownOnStart(t *testing.T) {
	l := fakelab.New()
	l.RevealHints("00-pool", 1)
	tm := start(t, l, "en")
	waitFor(t, tm, "Hint 1/2: Use a buffered channel")
	tm.Type("h")
	waitFor(t, tm, "Hint 2/2")
	finalView(t, tm)
}

func TestChineseLabels(t *testing.T) {
	tm := start(t, fakelab.New(), "zh-CN")
	waitFor(t, tm, "按 enter")
	tm.Type("]") // chapter 01 shows skip, compile error, infra error and timeout
	waitFor(t, tm, "基础设施错误")
	tm.Type("h")
	waitFor(t, tm, "没有提示")
	view := finalView(t, tm)
	for _, want := range []string{"章节", "练习", "已跳过", "编译错误", "超时", "单体应用（Gin）"} {
		if !strings.Contains(view, want) {
			t.Errorf("zh view lacks %q", want)
		}
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

func TestResizeToNarrowWidth(t *testing.T) {
	const narrow = 50
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Send(tea.WindowSizeMsg{Width: narrow, Height: 24})
	tm.Type("h")
	waitFor(t, tm, "Hint 1/2")
	view := finalView(t, tm)
	lines := strings.Split(view, "\n")
	if len(lines) > 24 {
		t.Errorf("narrow view has %d lines, want at most 24", len(lines))
	}
	for i, line := range lines {
		if w := ansi.StringWidth(line); w > narrow {
			t.Errorf("line %d is %d cells wide, want at most %d: %q", i, w, narrow, line)
		}
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

// TestResultWithoutTestsExplainsItself: a result that no test speaks for (no test matched, the binary
// died first) must show the runner's reason, not just a status.
func TestResultWithoutTestsExplainsItself(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j")})
	press(tm, tea.KeyEnter)
	waitFor(t, tm, `no test matches "^TestFanout"`)
	finalView(t, tm)
}

// startBlockingCheck presses enter on the resumed exercise with a lab whose check runs until cancelled.
func startBlockingCheck(t *testing.T) (*fakelab.Lab, *teatest.TestModel) {
	t.Helper()
	l := fakelab.New()
	l.SetBlocking(true)
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	press(tm, tea.KeyEnter)
	if _, err := l.WaitCheck(waitLimit); err != nil {
		t.Fatal(err)
	}
	return l, tm
}

func TestEscCancelsRunningCheck(t *testing.T) {
	_, tm := startBlockingCheck(t)
	waitFor(t, tm, "Checking 00-pool", // the spinner line
		"checking 1 exercise(s)",  // the lab's Logf, streamed
		"--- FAIL: TestPoolOrder") // go test output, streamed before the check ends
	press(tm, tea.KeyEsc)
	waitFor(t, tm, "Check cancelled.")
	view := finalView(t, tm)
	if !strings.Contains(view, "00-pool · Bounded worker pool  ? stale") || !strings.Contains(view, "status from before (failed)") {
		t.Errorf("after a cancelled check the old status must be marked stale and named; view:\n%s", view)
	}
}

// TestQuitDuringCheck quits while a check runs. The program must end, and once Close returns the check
// must have returned too, or the program could exit while go test is still being killed.
func TestQuitDuringCheck(t *testing.T) {
	tests := []struct {
		name string
		keys func(t *testing.T, tm *teatest.TestModel)
	}{
		{"q", func(t *testing.T, tm *teatest.TestModel) { tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")}) }},
		{"ctrl+c cancels, a second ctrl+c quits", func(t *testing.T, tm *teatest.TestModel) {
			press(tm, tea.KeyCtrlC)
			waitFor(t, tm, "Check cancelled.")
			press(tm, tea.KeyCtrlC)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, tm := startBlockingCheck(t)
			tt.keys(t, tm)
			fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(waitLimit)).(tui.Model)
			if !ok {
				t.Fatal("FinalModel() is not a tui.Model")
			}
			fm.Close()
			if n := l.InFlight(); n != 0 {
				t.Errorf("checks still running after Close() = %d, want 0", n)
			}
		})
	}
}

func TestWatchRerunsCheckOnChange(t *testing.T) {
	l := fakelab.New()
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("w")
	waitFor(t, tm, "watch: on (00)")
	l.Change("00-go-for-services/pool/pool.go")
	ids, err := l.WaitCheck(waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"00-pool"}; !slices.Equal(ids, want) {
		t.Errorf("watch checked %v, want %v", ids, want)
	}
	waitFor(t, tm, "Results")
	tm.Type("w")
	waitFor(t, tm, "watch: off")
	finalView(t, tm)
}

func TestWatchFailureIsReported(t *testing.T) {
	l := fakelab.New()
	l.SetWatchError(errors.New("no inotify"))
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("w")
	waitFor(t, tm, "watch failed: no inotify")
	if view := finalView(t, tm); strings.Contains(view, "watch: on") {
		t.Errorf("header says watch is on after Watch failed:\n%s", view)
	}
}

func TestLessonRendersMarkdown(t *testing.T) {
	m := tui.New(fakelab.New(), "en").WithLessonStyle("dark") // a styled theme, so markup must disappear
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(termWidth, termHeight))
	waitFor(t, tm, "Press enter to check")
	tm.Type("l")
	waitFor(t, tm, "bound a worker pool")
	view := finalView(t, tm)
	if strings.Contains(view, "**context**") {
		t.Errorf("lesson shows raw markdown, want it rendered:\n%s", view)
	}
	if !strings.Contains(view, "Lesson 00 · Go for services") {
		t.Errorf("lesson view lacks its title:\n%s", view)
	}
	for i, line := range strings.Split(view, "\n") {
		if w := ansi.StringWidth(line); w > termWidth {
			t.Errorf("lesson line %d is %d cells wide, want at most %d", i, w, termWidth)
		}
	}
}

func TestLessonInChinese(t *testing.T) {
	tm := start(t, fakelab.New(), "zh")
	waitFor(t, tm, "按 enter")
	tm.Type("l")
	waitFor(t, tm, "限制工作池") // only the zh README says this
	finalView(t, tm)
}

func TestLessonBackToBrowse(t *testing.T) {
	tm := start(t, fakelab.New(), "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("l")
	waitFor(t, tm, "bound a worker pool")
	press(tm, tea.KeyEsc)
	waitFor(t, tm, "Chapters")
	if view := finalView(t, tm); !strings.Contains(view, "▸ 00-pool") {
		t.Errorf("after the lesson the cursor moved; view:\n%s", view)
	}
}

// TestSolutionDiffOfPassedExercise: a passed exercise shows its diff at once, and esc goes back.
func TestSolutionDiffOfPassedExercise(t *testing.T) {
	l := fakelab.New()
	tm := start(t, l, "en")
	waitFor(t, tm, "Press enter to check")
	tm.Type("k") // 00-cancel, passed
	waitFor(t, tm, "▸ 00-cancel")
	tm.Type("d")
	waitFor(t, tm, "Solution diff 00-cancel", "case <-ctx.Done():")
	view := finalView(t, tm)
	if strings.Contains(view, "Show the solution anyway") {
		t.Errorf("a passed exercise asked before showing its diff:\n%s", view)
	}
	if got, want := l.DiffAsks(), []string{"00-cancel"}; !slices.Equal(got, want) {
		t.Errorf("SolutionDiff calls = %v, want %v", got, want)
	}
	teatest.RequireEqualOutput(t, []byte(view))
}

// TestSolutionDiffAsksBeforeGivingUp: on an exercise not passed yet, d asks first; y shows the diff,
// any other key returns to the list without asking the lab for it.
func TestSolutionDiffAsksBeforeGivingUp(t *testing.T) {
	const question = "You haven't passed 00-pool yet. Show the solution anyway? y/N"
	t.Run("n returns", func(t *testing.T) {
		l := fakelab.New()
		tm := start(t, l, "en")
		waitFor(t, tm, "Press enter to check")
		tm.Type("d")
		waitFor(t, tm, question)
		tm.Type("n")
		tm.Type("h") // something visible after the answer, to know it was handled
		waitFor(t, tm, "Hint 1/2")
		view := finalView(t, tm)
		if strings.Contains(view, question) || strings.Contains(view, "Solution diff") {
			t.Errorf("after n the question or the diff is still on screen:\n%s", view)
		}
		if !strings.Contains(view, "▸ 00-pool") {
			t.Errorf("after n the cursor moved; view:\n%s", view)
		}
		if got := l.DiffAsks(); len(got) != 0 {
			t.Errorf("SolutionDiff calls = %v, want none", got)
		}
	})
	t.Run("y shows the diff", func(t *testing.T) {
		l := fakelab.New()
		tm := start(t, l, "en")
		waitFor(t, tm, "Press enter to check")
		tm.Type("d")
		waitFor(t, tm, question)
		tm.Type("y")
		waitFor(t, tm, "Solution diff 00-pool", "sem := make(chan struct{}, n)")
		press(tm, tea.KeyEsc)
		waitFor(t, tm, "Chapters")
		view := finalView(t, tm)
		if strings.Contains(view, "Solution diff") {
			t.Errorf("esc did not leave the diff:\n%s", view)
		}
		if got, want := l.DiffAsks(), []string{"00-pool"}; !slices.Equal(got, want) {
			t.Errorf("SolutionDiff calls = %v, want %v", got, want)
		}
	})
}

func TestSolutionDiffFailureIsShown(t *testing.T) {
	tm := start(t, fakelab.New(), "zh")
	waitFor(t, tm, "按 enter")
	tm.Type("jd") // 00-errgroup has no solution in the fake
	waitFor(t, tm, "你还没有通过 00-errgroup")
	tm.Type("y")
	waitFor(t, tm, "无法与答案对比", "fakelab: no solution")
	finalView(t, tm)
}

func selectedRows(view string) []string {
	var rows []string
	for _, line := range strings.Split(view, "\n") {
		if strings.Contains(line, "▸") {
			rows = append(rows, strings.TrimSpace(line))
		}
	}
	return rows
}

func equalChecks(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}
