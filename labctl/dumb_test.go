package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
	"github.com/gomicrolab/microlab/labctl/internal/tmuxtest"
)

// TestDumbTerminalGetsTheList: with TERM=dumb in a real terminal, labctl draws no UI and opens no
// alternate screen: it prints the plain list, says why, and ends, and the text stays on the screen.
func TestDumbTerminalGetsTheList(t *testing.T) {
	bin := buildLabctl(t)
	root := labtest.Course(t)
	script := "TERM=dumb " + strconv.Quote(bin) + " --root " + strconv.Quote(root) + " --lang en; echo exit=$?; sleep 60"
	s := tmuxtest.Start(t, 120, 40, "sh", "-c", script)
	screen := s.WaitScreen("exit=0")
	for _, want := range []string{"TERM=dumb cannot show the lab's UI", "00-add", "00-greet"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "\x1b[") || strings.Contains(screen, "Chapters") {
		t.Errorf("screen shows the UI or raw escapes on a dumb terminal:\n%s", screen)
	}
}
