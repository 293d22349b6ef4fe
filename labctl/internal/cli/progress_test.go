package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/i18n"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
)

// TestProgressPrinter drives the printer with a fake clock: what a learner sees while a check compiles,
// starts servers and runs tests, on a terminal and in a log.
func TestProgressPrinter(t *testing.T) {
	type action struct {
		after time.Duration // advance the clock first
		step  *lab.Step     // then start a step, or tick when nil
	}
	compile := &lab.Step{Kind: lab.StepCompile, Name: "06-resilience"}
	mysql := &lab.Step{Kind: lab.StepInfra, Name: "mysql"}
	test := &lab.Step{Kind: lab.StepTest, Name: "TestPool", Package: "00-x/pool"}
	tests := []struct {
		name    string
		tty     bool
		actions []action
		want    string
		why     string
	}{
		{"log: each step a line", false, []action{{0, mysql}, {time.Second, compile}, {time.Second, nil}},
			"starting mysql …\ncompiling 06-resilience …\n",
			"short steps show no time, and a pipe never gets a carriage return"},
		{"log: a long step repeats with its time", false, []action{{0, compile}, {3 * time.Second, nil}, {time.Second, nil}, {10 * time.Second, nil}},
			"compiling 06-resilience …\ncompiling 06-resilience … 3 s\ncompiling 06-resilience … 14 s\n",
			"a CI log shows the wait is alive, at most one line per 10 s"},
		{"log: a quick test is not printed", false, []action{{0, compile}, {time.Second, test}, {time.Second, nil}},
			"compiling 06-resilience …\n",
			"hundreds of tests would flood the log; a test shows once it has run for 2 s"},
		{"log: a slow test is named", false, []action{{0, test}, {3 * time.Second, nil}},
			"running TestPool (00-x/pool) … 3 s\n",
			"a test that hangs is named while it hangs"},
		{"terminal: one line rewritten", true, []action{{0, compile}, {3 * time.Second, nil}, {0, test}},
			"\r\x1b[Kcompiling 06-resilience …\r\x1b[Kcompiling 06-resilience … 3 s\r\x1b[Krunning TestPool (00-x/pool) …\r\x1b[K",
			"on a terminal the status line is redrawn in place and cleared before the results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			p := &progressPrinter{w: &out, tty: tt.tty, now: func() time.Time { return now },
				t: func(k string, a ...any) string { return i18n.T("en", k, a...) }}
			for _, a := range tt.actions {
				now = now.Add(a.after)
				if a.step != nil {
					p.step(*a.step)
				} else {
					p.tick()
				}
			}
			p.done()
			if got := out.String(); got != tt.want {
				t.Errorf("printed %q, want %q: %s", got, tt.want, tt.why)
			}
		})
	}
}

// A warning printed during a step on a terminal clears the status line first, then draws it again.
func TestProgressLineKeepsWarningsReadable(t *testing.T) {
	var out bytes.Buffer
	p := &progressPrinter{w: &out, tty: true, now: time.Now, t: func(k string, a ...any) string { return i18n.T("en", k, a...) }}
	p.step(lab.Step{Kind: lab.StepInfra, Name: "redis"})
	p.line("redis: 7.0 via docker")
	want := "\r\x1b[Kstarting redis …\r\x1b[Kredis: 7.0 via docker\n\r\x1b[Kstarting redis …"
	if got := out.String(); got != want {
		t.Errorf("printed %q, want %q: the warning must not be glued to the status line", got, want)
	}
}

// labctl check without a terminal says what it compiles, line by line; --json keeps stdout a document
// and stderr free of progress.
func TestCheckShowsProgress(t *testing.T) {
	root := labtest.Course(t)
	_, _, stderr := run(t, root, "check", "00-add")
	if !strings.Contains(stderr, "compiling 00-demo …\n") || strings.Contains(stderr, "\r") {
		t.Errorf("check stderr = %q, want the line %q and no carriage return without a terminal", stderr, "compiling 00-demo …")
	}
	_, _, stderr = run(t, root, "check", "00-add", "--json")
	if strings.Contains(stderr, "compiling") {
		t.Errorf("check --json stderr = %q, want no progress: a script reads the document", stderr)
	}
}

// Without go there is nothing to compile: the check says so and does not claim to be compiling.
func TestNoProgressWithoutGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := run(t, labtest.Course(t), "check", "00-add")
	if code != ExitInfra || strings.Contains(stderr, "compiling") {
		t.Errorf("check without go = %d, stderr %q; want %d and no \"compiling\" line", code, stderr, ExitInfra)
	}
}
