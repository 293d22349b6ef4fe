package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Running a check: a spinner, the run's output as it streams, then results per exercise.

// maxLines bounds the streamed output kept on screen.
const maxLines = 500

// MSG

// checkEventMsg carries one streamed event and the channel to read the next one from.
type checkEventMsg struct {
	id     int
	event  runner.Event
	events <-chan runner.Event
}

// checkDoneMsg is the outcome of Lab.Check.
type checkDoneMsg struct {
	id      int
	results []runner.ExerciseResult
	err     error
}

// MODEL

// checker is the state of the current (or last) check. id tells its messages from those of a cancelled run.
type checker struct {
	id         int
	running    bool
	cancelling bool
	cancel     context.CancelFunc
	done       chan struct{} // closed when Lab.Check has returned, so its processes are gone
	targets    []string      // exercise ids under check
	lines      []string      // streamed output
	step       string        // the phase under way, worded ("compiling 00-go-for-services …")
	stepSince  time.Time
	spinner    spinner.Model
}

func newChecker() checker {
	return checker{spinner: spinner.New(spinner.WithSpinner(spinner.Dot))}
}

func (c checker) stopContext() {
	if c.cancel != nil {
		c.cancel()
	}
}

// wait blocks until the current check has returned, at most limit: a program that exits while
// Lab.Check is still killing go test would leave the test processes behind.
func (c checker) wait(limit time.Duration) {
	if c.done == nil {
		return
	}
	select {
	case <-c.done:
	case <-time.After(limit):
	}
}

func (c checker) covers(exerciseID string) bool {
	for _, id := range c.targets {
		if id == exerciseID {
			return true
		}
	}
	return false
}

// UPDATE

// startCheck runs a check unless one is under way (one go test at a time keeps output and infra readable).
func (m Model) startCheck(exercises []*course.Exercise) (Model, tea.Cmd) {
	if m.check.running || len(exercises) == 0 {
		return m, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := m.check
	c.id++
	c.running, c.cancelling, c.cancel, c.lines, c.done = true, false, cancel, nil, make(chan struct{})
	c.step = ""
	c.targets = c.targets[:0:0]
	for _, ex := range exercises {
		c.targets = append(c.targets, ex.ID)
	}
	m.check, m.notice = c, ""
	events := make(chan runner.Event, 64)
	return m, tea.Batch(
		runCheckCmd(ctx, m.lab, c.id, exercises, events, c.done),
		waitEventCmd(c.id, events),
		m.check.spinner.Tick,
	)
}

// cancelCheck asks the running check to stop; the run ends when Check returns.
func (m Model) cancelCheck() Model {
	m.check.stopContext()
	m.check.cancelling = true
	return m
}

func (m Model) tickSpinner(msg spinner.TickMsg) (Model, tea.Cmd) {
	if !m.check.running {
		return m, nil // let the tick loop die between checks
	}
	var cmd tea.Cmd
	m.check.spinner, cmd = m.check.spinner.Update(msg)
	return m, cmd
}

// handleCheckEvent keeps reading the channel even for a stale run, so the forwarder can finish.
func (m Model) handleCheckEvent(msg checkEventMsg) (Model, tea.Cmd) {
	next := waitEventCmd(msg.id, msg.events)
	if msg.id != m.check.id || !m.check.running {
		return m, next
	}
	if msg.event.Action == actionStep {
		m.check.step, m.check.stepSince = m.stepText(msg.event), time.Now()
		return m, next
	}
	m.check.lines = append(m.check.lines, eventLines(msg.event)...)
	if over := len(m.check.lines) - maxLines; over > 0 {
		m.check.lines = m.check.lines[over:]
	}
	return m, next
}

// finishCheck records the results. A not-run result (from a cancelled run) teaches nothing about the
// exercise, so it does not overwrite a status we already knew.
func (m Model) finishCheck(msg checkDoneMsg) (Model, tea.Cmd) {
	if msg.id != m.check.id {
		return m, nil
	}
	cancelled := m.check.cancelling
	m.check.stopContext()
	m.check.running, m.check.cancelling, m.check.cancel = false, false, nil
	for _, r := range msg.results {
		m.results[r.ExerciseID] = r
		was := m.statuses[r.ExerciseID]
		switch {
		case r.Status != runner.StatusNotRun:
			m.statuses[r.ExerciseID] = r.Status
			delete(m.staleWas, r.ExerciseID)
		case was != "" && was != runner.StatusNotRun && was != statusStale:
			// The code may have changed since that status: say so rather than show an old pass as current.
			m.statuses[r.ExerciseID], m.staleWas[r.ExerciseID] = statusStale, was
		case was == "":
			m.statuses[r.ExerciseID] = r.Status
		}
	}
	m.toFailure = true
	switch {
	case cancelled || errors.Is(msg.err, context.Canceled):
		m.notice = m.text.Cancelled
	case msg.err != nil:
		m.notice = m.text.CheckFailed + ": " + msg.err.Error()
	}
	if m.watch.pending {
		m.watch.pending = false
		return m.checkWatched()
	}
	return m, nil
}

// actionStep marks an event that carries a lab.Step (Output is its kind, Test its name) rather than go
// test's output: steps travel on the event channel so that they arrive in order with the output.
const actionStep = "labctl-step"

func stepEvent(s lab.Step) runner.Event {
	return runner.Event{Action: actionStep, Output: string(s.Kind), Test: s.Name, Package: s.Package}
}

// stepText words a step for the status line.
func (m Model) stepText(ev runner.Event) string {
	switch lab.StepKind(ev.Output) {
	case lab.StepInfra:
		return fmt.Sprintf(m.text.StepInfra, ev.Test)
	case lab.StepCompile:
		return fmt.Sprintf(m.text.StepCompile, ev.Test)
	case lab.StepTest:
		return fmt.Sprintf(m.text.StepTest, ev.Test)
	}
	return ""
}

// stepStatus is the step with its elapsed time once that passes two seconds, for the status line.
func (c checker) stepStatus(t labels, now time.Time) string {
	if c.step == "" {
		return ""
	}
	if el := now.Sub(c.stepSince); el >= 2*time.Second {
		return c.step + " " + fmt.Sprintf(t.Seconds, int(el/time.Second))
	}
	return c.step
}

// eventLines turns an event into display lines: only output carries text worth showing.
func eventLines(ev runner.Event) []string {
	if ev.Action != "output" && ev.Action != "build-output" {
		return nil
	}
	text := strings.TrimRight(ev.Output, "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// COMMANDS

// runCheckCmd calls Lab.Check. Events go through a forwarder, so Check never blocks on a UI that has
// stopped reading: once ctx is cancelled the forwarder drops events instead of waiting.
func runCheckCmd(ctx context.Context, l Lab, id int, exercises []*course.Exercise, out chan<- runner.Event,
	done chan<- struct{}) tea.Cmd {
	return func() tea.Msg {
		defer close(done)
		raw := make(chan runner.Event, 64)
		go forwardEvents(ctx, raw, out)
		send := func(ev runner.Event) {
			select {
			case raw <- ev:
			case <-ctx.Done():
			}
		}
		opts := CheckOptions{
			// as an output line, so warnings (edited tests, infra start) show up in the stream
			Logf: func(format string, a ...any) {
				send(runner.Event{Action: "output", Output: fmt.Sprintf(format, a...) + "\n"})
			},
			Progress: func(s lab.Step) { send(stepEvent(s)) },
		}
		results, err := l.Check(ctx, exercises, opts, raw)
		close(raw)
		return checkDoneMsg{id: id, results: results, err: err}
	}
}

// forwardEvents copies in to out until in is closed, then closes out.
func forwardEvents(ctx context.Context, in <-chan runner.Event, out chan<- runner.Event) {
	defer close(out)
	for ev := range in {
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	}
}

// waitEventCmd reads one event; a closed channel ends the chain with no message.
func waitEventCmd(id int, events <-chan runner.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return nil
		}
		return checkEventMsg{id: id, event: ev, events: events}
	}
}
