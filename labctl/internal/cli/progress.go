package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// Progress of a check on stderr, so that compiling and starting servers are never a silent wait.
// On a terminal one status line is rewritten in place; elsewhere (CI logs, pipes) each step is a line of
// its own and a long step repeats its line with the elapsed time, never a carriage return.

const (
	showElapsedAfter = 2 * time.Second  // shorter steps show no time
	repeatEvery      = 10 * time.Second // a long step's line comes again this often without a terminal
	tickEvery        = time.Second
)

type progressPrinter struct {
	w   io.Writer
	tty bool
	now func() time.Time
	t   func(key string, args ...any) string

	mu       sync.Mutex
	label    string    // the current step, worded; "" when there is none
	quiet    bool      // without a terminal, the current step prints only once it has taken showElapsedAfter
	since    time.Time // when the current step began
	printed  time.Time // when its line was last printed without a terminal; zero if never
	timed    bool      // its line was printed with the elapsed time
	onScreen bool      // on a terminal: the status line is drawn and must be cleared before other output
}

func (a *app) newProgress(tty bool) *progressPrinter {
	return &progressPrinter{w: a.stderr, tty: tty, now: time.Now, t: a.t}
}

// step starts a new phase. Tests start too often to print each one: without a terminal a test's line is
// printed only once it has run for showElapsedAfter.
func (p *progressPrinter) step(s lab.Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s.Kind {
	case lab.StepInfra:
		p.label = p.t("progress.infra", s.Name)
	case lab.StepCompile:
		p.label = p.t("progress.compile", s.Name)
	case lab.StepTest:
		p.label = p.t("progress.test", s.Name, s.Package)
	default:
		return
	}
	p.since, p.printed, p.timed, p.quiet = p.now(), time.Time{}, false, s.Kind == lab.StepTest
	p.draw()
}

// tick redraws the current step with its elapsed time once that is worth showing.
func (p *progressPrinter) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.label == "" || p.now().Sub(p.since) < showElapsedAfter {
		return
	}
	if p.tty || !p.timed || p.now().Sub(p.printed) >= repeatEvery {
		p.draw()
	}
}

// line prints a message of its own (a warning, a server that started) above the status line.
func (p *progressPrinter) line(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, msg)
	if p.tty && p.label != "" {
		p.draw()
	}
}

// done clears the status line: the results follow.
func (p *progressPrinter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.label = ""
}

// run ticks until stop is called.
func (p *progressPrinter) run() (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.tick()
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-finished; p.done() }
}

func (p *progressPrinter) draw() {
	el := p.now().Sub(p.since)
	text := p.label
	if el >= showElapsedAfter {
		text += " " + p.t("progress.elapsed", int(el/time.Second))
		p.timed = true
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K"+text)
		p.onScreen = true
		return
	}
	if p.quiet && el < showElapsedAfter {
		return
	}
	fmt.Fprintln(p.w, text)
	p.printed = p.now()
}

func (p *progressPrinter) clear() {
	if p.onScreen {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.onScreen = false
	}
}
