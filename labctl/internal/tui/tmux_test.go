package tui_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTmuxSmoke runs the real program (testdata/smoke, the TUI on the fake lab) in a real terminal:
// a detached tmux session on a private socket, driven with send-keys and read with capture-pane.
func TestTmuxSmoke(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed; this test needs it: apt-get install tmux")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "smoke")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/smoke").CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/smoke: %v\n%s", err, out)
	}
	tm := tmux{t: t, socket: filepath.Join(dir, "tmux.sock"), session: "smoke"}
	t.Cleanup(tm.killServer)
	tm.run("new-session", "-d", "-s", tm.session, "-x", "100", "-y", "30", bin)

	tm.waitScreen("Chapters")
	tm.run("send-keys", "-t", tm.session, "j")
	tm.waitScreen("▸ 00-errgroup")
	tm.run("send-keys", "-t", tm.session, "h")
	screen := tm.waitScreen("Hint 1/2: errgroup.WithContext")
	for _, want := range []string{"00 Go for services", "01 Monolith (Gin)", "1/3", "0/4"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	tm.run("send-keys", "-t", tm.session, "q")
	tm.waitExit()
}

// tmux drives one tmux server on its own socket (in the test's temp dir), so the test never touches
// a user's sessions and leaves no socket behind.
type tmux struct {
	t       *testing.T
	socket  string
	session string
}

func (x tmux) command(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-S", x.socket, "-f", "/dev/null"}, args...)...)
}

func (x tmux) run(args ...string) string {
	x.t.Helper()
	out, err := x.command(args...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitScreen polls capture-pane until the screen contains want, and returns that screen.
func (x tmux) waitScreen(want string) string {
	x.t.Helper()
	var screen string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		screen = x.run("capture-pane", "-p", "-t", x.session)
		if strings.Contains(screen, want) {
			return screen
		}
	}
	x.t.Fatalf("screen never showed %q; last screen:\n%s", want, screen)
	return ""
}

// waitExit waits for the program to quit, which ends its session.
func (x tmux) waitExit() {
	x.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if x.command("has-session", "-t", x.session).Run() != nil {
			return
		}
	}
	x.t.Fatalf("the program did not quit on q; screen:\n%s", x.run("capture-pane", "-p", "-t", x.session))
}

func (x tmux) killServer() {
	_ = x.command("kill-server").Run() // the server is gone already when the session ended
}
