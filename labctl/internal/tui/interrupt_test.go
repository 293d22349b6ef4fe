package tui_test

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
	"github.com/gomicrolab/microlab/labctl/internal/tui/testdata/fakelab"
)

// Leaving with ctrl+c is an interruption (Run turns it into exit 130); q is a normal end. While a check
// runs, the first ctrl+c only cancels it.
func TestCtrlCIsAnInterruption(t *testing.T) {
	tests := []struct {
		name  string
		block bool
		keys  []tea.KeyMsg
		want  bool
	}{
		{"q", false, []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("q")}}, false},
		{"ctrl+c", false, []tea.KeyMsg{{Type: tea.KeyCtrlC}}, true},
		{"ctrl+c twice during a check", true, []tea.KeyMsg{{Type: tea.KeyEnter}, {Type: tea.KeyCtrlC}, {Type: tea.KeyCtrlC}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := fakelab.New()
			l.SetBlocking(tt.block)
			tm := start(t, l, "en")
			waitFor(t, tm, "Press enter to check")
			for i, k := range tt.keys {
				tm.Send(k)
				if k.Type == tea.KeyEnter {
					if _, err := l.WaitCheck(waitLimit); err != nil {
						t.Fatal(err)
					}
				}
				if i == 1 && tt.block {
					waitFor(t, tm, "Check cancelled.")
				}
			}
			fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(waitLimit)).(tui.Model)
			if !ok {
				t.Fatal("FinalModel() is not a tui.Model")
			}
			fm.Close()
			if got := fm.Interrupted(); got != tt.want {
				t.Errorf("Interrupted() after %s = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
