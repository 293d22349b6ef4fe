package tui_test

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/gomicrolab/microlab/labctl/internal/tui"
	"github.com/gomicrolab/microlab/labctl/internal/tui/testdata/fakelab"
)

// TestViewFitsTerminal draws every screen at many sizes: nothing may panic or spill past the width,
// and from a usable size up nothing may spill past the height either.
func TestViewFitsTerminal(t *testing.T) {
	sizes := []struct{ w, h int }{{0, 0}, {1, 1}, {20, 5}, {40, 10}, {50, 24}, {80, 24}, {89, 30}, {90, 30}, {160, 50}}
	keys := map[string][]string{
		"browse": nil, "full help": {"?"}, "chapter 01": {"]"}, "hint": {"h"}, "lesson": {"l"}, "lesson help": {"l", "?"},
	}
	for _, sz := range sizes {
		for name, typed := range keys {
			t.Run(fmt.Sprintf("%dx%d %s", sz.w, sz.h, name), func(t *testing.T) {
				var m tea.Model = tui.New(fakelab.New(), "en")
				m, _ = m.Update(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
				for _, k := range typed {
					m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
				}
				lines := strings.Split(m.View(), "\n")
				for i, line := range lines {
					if w := ansi.StringWidth(line); w > max(sz.w, 0) {
						t.Errorf("line %d is %d cells wide, want at most %d: %q", i, w, sz.w, line)
					}
				}
				if sz.h >= 20 && len(lines) > sz.h {
					t.Errorf("view has %d lines, want at most %d", len(lines), sz.h)
				}
			})
		}
	}
}
