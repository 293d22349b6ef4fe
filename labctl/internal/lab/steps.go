package lab

import (
	"context"
	"path"
	"slices"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// StepKind names a phase of a check.
type StepKind string

const (
	StepInfra   StepKind = "infra"   // starting a server the exercises need
	StepCompile StepKind = "compile" // go test is building the test binaries
	StepTest    StepKind = "test"    // a top-level test has started
)

// Step is a phase of a check that has just begun; it lasts until the next step or the end of the check.
// The UIs show it so that a long compile or a slow server is never a silent wait.
type Step struct {
	Kind    StepKind
	Name    string // the service ("mysql"), the chapter directories ("00-go-for-services"), or the test ("TestPool")
	Package string // for StepTest: the test's package, relative to chapters/ ("00-x/pool")
}

func (o CheckOptions) step(s Step) {
	if o.Progress != nil {
		o.Progress(s)
	}
}

// compileStep names the chapters whose test binaries go test is about to build.
func compileStep(c *course.Course, exercises []*course.Exercise) Step {
	var dirs []string
	for _, ex := range exercises {
		dir := ex.Chapter
		if ch := c.Chapter(ex.Chapter); ch != nil && ch.Dir != "" {
			dir = path.Clean(ch.Dir)
		}
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return Step{Kind: StepCompile, Name: strings.Join(dirs, ", ")}
}

// watchSteps forwards the runner's events to out (which may be nil) and reports each top-level test that
// starts as a StepTest. The returned channel is the one to give the runner; wait returns once every event
// has been forwarded, so that nothing is sent on out after Check returns.
func watchSteps(ctx context.Context, opts CheckOptions, out chan<- runner.Event) (in chan runner.Event, wait func()) {
	in = make(chan runner.Event, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range in {
			if ev.Action == "run" && ev.Test != "" && !strings.Contains(ev.Test, "/") {
				opts.step(Step{Kind: StepTest, Name: ev.Test, Package: strings.TrimPrefix(ev.Package, "./")})
			}
			if out == nil {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
			}
		}
	}()
	return in, func() { close(in); <-done }
}
