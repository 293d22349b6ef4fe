// Package tmuxtest runs a program in a real terminal for labctl's smoke tests: a detached tmux
// session on a private socket in the test's temp dir, driven with send-keys and read with capture-pane.
// It never touches the user's tmux sessions, and the test fails (never skips) without tmux.
package tmuxtest

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timeout bounds every wait: long enough for a cold `go test` of a tiny package on a slow machine.
const Timeout = 60 * time.Second

// Session is one program running in its own tmux server.
type Session struct {
	t      testing.TB
	socket string
	name   string
}

// Start runs argv in a width x height terminal. The tmux server is killed when the test ends.
func Start(t testing.TB, width, height int, argv ...string) *Session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed; this test needs it: apt-get install tmux")
	}
	s := &Session{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock"), name: "smoke"}
	t.Cleanup(func() { _ = s.command("kill-server").Run() }) // gone already if the program quit
	args := append([]string{"new-session", "-d", "-s", s.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)}, argv...)
	s.run(args...)
	return s
}

func (s *Session) command(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-S", s.socket, "-f", "/dev/null"}, args...)...)
}

func (s *Session) run(args ...string) string {
	s.t.Helper()
	out, err := s.command(args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Keys types keys, in tmux's send-keys names ("j", "Enter", "C-c").
func (s *Session) Keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

// Screen is the visible text of the terminal.
func (s *Session) Screen() string {
	s.t.Helper()
	return s.run("capture-pane", "-p", "-t", s.name)
}

// WaitScreen polls the screen until it contains every want, and returns that screen.
func (s *Session) WaitScreen(wants ...string) string {
	s.t.Helper()
	var screen string
	for deadline := time.Now().Add(Timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		screen = s.Screen()
		if containsAll(screen, wants) {
			return screen
		}
	}
	s.t.Fatalf("screen never showed %q; last screen:\n%s", wants, screen)
	return ""
}

// WaitExit waits for the program to quit, which ends its session.
func (s *Session) WaitExit() {
	s.t.Helper()
	for deadline := time.Now().Add(Timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s.command("has-session", "-t", s.name).Run() != nil {
			return
		}
	}
	s.t.Fatalf("the program did not quit; screen:\n%s", s.Screen())
}

func containsAll(s string, wants []string) bool {
	for _, w := range wants {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
