package tui_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/tmuxtest"
)

// TestTmuxSmoke runs the UI on the fake lab (testdata/smoke) in a real terminal.
// labctl's TestTmuxRealCheck does the same with the real binary and the real runner.
func TestTmuxSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "smoke")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/smoke").CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/smoke: %v\n%s", err, out)
	}
	s := tmuxtest.Start(t, 100, 30, bin)
	s.WaitScreen("Chapters")
	s.Keys("j")
	s.WaitScreen("▸ 00-errgroup")
	s.Keys("h")
	screen := s.WaitScreen("Hint 1/2: errgroup.WithContext")
	for _, want := range []string{"00 Go for services", "01 Monolith (Gin)", "1/3", "0/4"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	s.Keys("q")
	s.WaitExit()
}
