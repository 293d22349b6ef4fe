package verify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// MinWrong is how many committed wrong solutions every exercise needs (../shared/chapter-done.md).
const MinWrong = 4

// wrongTimeout bounds one wrong solution's test run. A wrong solution caught only by this timeout is a
// problem of the tests: they must fail with a message that says what is wrong.
const wrongTimeout = 4 * time.Minute

// RunWorkersPerCPU is how many wrong solutions are under way per build worker by default (Options.RunWorkers).
const RunWorkersPerCPU = 2

// WrongResult is what happened to one committed wrong solution.
type WrongResult struct {
	ID       string        // "<exercise>/<name>"
	Mistake  string        // the patch's first line
	Rejected bool          // a test failed with a message: the course caught the mistake
	CaughtBy []string      // the failing tests, when rejected
	Elapsed  time.Duration // the go test run
}

// checkWrong runs every wrong solution of the chapter's selected exercises against that exercise's
// tests, with the chapter's solution in place. Each must compile and fail a test; anything else (a pass,
// a compile error, a skip, a timeout, an infrastructure error, a patch that no longer applies) is a Problem.
func checkWrong(ctx context.Context, l *lab.Lab, ch *course.Chapter, exercises []*course.Exercise, env []string, slots *slots, minWrong int, logf func(string, ...any)) ([]WrongResult, []Problem, error) {
	all, err := l.WrongSolutions()
	if err != nil {
		return nil, nil, err
	}
	type job struct {
		ex *course.Exercise
		w  lab.WrongSolution
	}
	var jobs []job
	var ps []Problem
	for _, ex := range exercises {
		n := 0
		for _, w := range all {
			if w.Exercise == ex.ID {
				jobs = append(jobs, job{ex, w})
				n++
			}
		}
		if n < minWrong {
			ps = append(ps, Problem{Chapter: ch.ID, Exercise: ex.ID, Msg: fmt.Sprintf(
				"%d wrong solution(s) under %s/%s, want at least %d: each plausible mistake the tests reject is the proof that they test something",
				n, lab.WrongDir, ex.ID, minWrong)})
		}
	}
	results := make([]WrongResult, len(jobs))
	problems := make([][]Problem, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			if err := slots.acquireRun(ctx); err != nil {
				errs[i] = err
				return
			}
			defer slots.releaseRun()
			results[i], problems[i], errs[i] = runWrong(ctx, l, ch, j.ex, j.w, env, slots)
			switch {
			case logf == nil:
			case len(problems[i]) > 0: // say why at once: "not rejected" alone would send an author the wrong way
				logf("  wrong %s: PROBLEM: %s", j.w.ID(), problems[i][0].Msg)
			default:
				logf("  %s", results[i].line())
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results, ps, err
	}
	for _, p := range problems {
		ps = append(ps, p...)
	}
	return results, ps, nil
}

// slots bound the wrong solutions in flight. Building a test binary (compile, vet, link) keeps a CPU busy,
// so only cap(build) of them build at once; a built binary mostly waits on servers and timers, so up to
// cap(run) wrong solutions, building or running, are under way at once.
type slots struct{ build, run chan struct{} }

func newSlots(build, run int) *slots {
	build = max(1, build)
	return &slots{build: make(chan struct{}, build), run: make(chan struct{}, max(build, run))}
}

func acquire(ctx context.Context, c chan struct{}) error {
	select {
	case c <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slots) acquireRun(ctx context.Context) error   { return acquire(ctx, s.run) }
func (s *slots) releaseRun()                            { <-s.run }
func (s *slots) acquireBuild(ctx context.Context) error { return acquire(ctx, s.build) }
func (s *slots) releaseBuild()                          { <-s.build }

// runWrong runs one wrong solution. The error is only for when go test cannot run at all.
func runWrong(ctx context.Context, l *lab.Lab, ch *course.Chapter, ex *course.Exercise, w lab.WrongSolution, env []string, slots *slots) (WrongResult, []Problem, error) {
	res := WrongResult{ID: w.ID()}
	problem := func(format string, a ...any) []Problem {
		return []Problem{{Chapter: ch.ID, Exercise: ex.ID, Msg: "wrong solution " + w.ID() + ": " + fmt.Sprintf(format, a...)}}
	}
	mistake, err := w.Mistake()
	if err != nil {
		return res, problem("%v", err), nil
	}
	res.Mistake = mistake
	overlay, cleanup, err := l.WrongOverlay(ch, w)
	if errors.Is(err, lab.ErrBadPatch) {
		return res, problem("%v", err), nil
	}
	if err != nil {
		return res, nil, err
	}
	defer cleanup()
	// Building (compile, vet, link) is CPU work and takes a build slot; the slot is free again as soon as
	// go test starts the test binary, whose run mostly waits on servers and timers.
	if err := slots.acquireBuild(ctx); err != nil {
		return res, nil, err
	}
	release := sync.OnceFunc(slots.releaseBuild)
	events := make(chan runner.Event)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ev := range events {
			if ev.Action == "start" {
				release()
			}
		}
	}()
	start := time.Now()
	rep, err := l.Runner().Run(ctx, runner.Request{
		Packages: []string{ex.Package}, Run: ex.Tests, Overlay: overlay, Env: env,
		Race: ex.Race, FailFast: true, NoCache: true, NoDWARF: true, Timeout: max(wrongTimeout, 2*ex.TestTimeout()),
	}, events)
	close(events)
	<-consumed
	release() // go test ended without starting the binary
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, nil, err
	}
	r := runner.Fold(rep, []*course.Exercise{ex})[0]
	switch r.Status {
	case runner.StatusFail:
		res.Rejected = true
		for _, t := range r.Tests {
			if t.Status == runner.StatusFail {
				res.CaughtBy = append(res.CaughtBy, t.Name)
			}
		}
		return res, nil, nil
	case runner.StatusPass:
		return res, problem("passes every test of the exercise (%q): the tests do not catch this mistake", mistake), nil
	case runner.StatusCompileError:
		msg := r.Message
		if len(r.CompileErrors) > 0 {
			ce := r.CompileErrors[0]
			// The patched file lives in the overlay's directory at its repository path.
			file := filepath.ToSlash(strings.TrimPrefix(ce.File, filepath.Dir(overlay)+string(filepath.Separator)))
			msg = fmt.Sprintf("%s:%d: %s", file, ce.Line, ce.Message)
		}
		return res, problem("does not compile, so it proves nothing: %s", oneLine(msg)), nil
	case runner.StatusTimeout:
		return res, problem("is caught only by the %v test timeout: a test must fail with a message that says what is wrong", wrongTimeout), nil
	default:
		return res, problem("result is %s, want a failing test: %s", r.Status, firstMessage(r)), nil
	}
}

func (r WrongResult) line() string {
	if r.Rejected {
		return fmt.Sprintf("wrong %s: rejected by %v (%v)", r.ID, r.CaughtBy, r.Elapsed.Round(time.Millisecond*10))
	}
	return fmt.Sprintf("wrong %s: NOT rejected (%v)", r.ID, r.Elapsed.Round(time.Millisecond*10))
}

// strayWrong reports wrong-solution directories that name no exercise of the course.
func strayWrong(l *lab.Lab) ([]Problem, error) {
	all, err := l.WrongSolutions()
	if err != nil {
		return nil, err
	}
	var ps []Problem
	var seen []string
	for _, w := range all {
		if l.Course().Exercise(w.Exercise) == nil && !slices.Contains(seen, w.Exercise) {
			seen = append(seen, w.Exercise)
			ps = append(ps, Problem{Msg: fmt.Sprintf("%s/%s names no exercise of the course", lab.WrongDir, w.Exercise)})
		}
	}
	return ps, nil
}

// WrongReport renders every wrong solution that ran as Markdown: what the mistake is and which test
// caught it, per chapter. It is the course's evidence that its tests test something.
func WrongReport(rep *Report) string {
	var b strings.Builder
	b.WriteString("# Wrong solutions and the tests that reject them\n\n")
	b.WriteString("Generated by `go run ./labctl verify --report docs/wrong-solutions.md`. Each row is a committed wrong\n")
	b.WriteString("solution (`solutions/wrong/<exercise>/<name>.patch`): the reference solution with one mistake. It must\n")
	b.WriteString("compile and fail a test of its exercise. With `-failfast`, \"caught by\" names the first test that failed.\n")
	for _, c := range rep.Chapters {
		if len(c.Wrong) == 0 {
			continue
		}
		rejected := 0
		for _, w := range c.Wrong {
			if w.Rejected {
				rejected++
			}
		}
		fmt.Fprintf(&b, "\n## Chapter %s: %d of %d rejected\n\n", c.Chapter, rejected, len(c.Wrong))
		b.WriteString("| wrong solution | the mistake | caught by |\n| --- | --- | --- |\n")
		for _, w := range c.Wrong {
			caught := "**not rejected**"
			if w.Rejected {
				caught = "`" + strings.Join(w.CaughtBy, "`, `") + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", w.ID, strings.ReplaceAll(w.Mistake, "|", "\\|"), caught)
		}
	}
	return b.String()
}
