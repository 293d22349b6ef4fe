// Package verify is the course integrity check, for authors and CI: every starter compiles and fails,
// every solution passes, the manifest matches the tests, and the test files match tests.sum.
// `labctl verify` and the root module's TestCourse both run it.
package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// Problem is one way the course is broken.
type Problem struct {
	Chapter  string // chapter id, "" for the whole course
	Exercise string // exercise id, when the problem is about one
	Msg      string
}

func (p Problem) String() string {
	switch {
	case p.Exercise != "":
		return fmt.Sprintf("exercise %s: %s", p.Exercise, p.Msg)
	case p.Chapter != "":
		return fmt.Sprintf("chapter %s: %s", p.Chapter, p.Msg)
	}
	return p.Msg
}

// ChapterReport is the verification of one chapter.
type ChapterReport struct {
	Chapter  string
	Elapsed  time.Duration
	Problems []Problem
	Wrong    []WrongResult // every wrong solution that ran, in exercise and name order
}

// Report is the whole verification.
type Report struct {
	Course   []Problem // problems of no one chapter
	Chapters []ChapterReport
}

// Problems lists every problem found, the course's first, then in chapter order.
func (r *Report) Problems() []Problem {
	out := slices.Clone(r.Course)
	for _, c := range r.Chapters {
		out = append(out, c.Problems...)
	}
	return out
}

// OK says whether the course verified cleanly.
func (r *Report) OK() bool { return len(r.Problems()) == 0 }

// Options tune a run.
type Options struct {
	Logf func(format string, a ...any) // progress lines; nil drops them

	// Exercises limits the run to these exercises' chapters, and the wrong solutions to these exercises.
	// Nil verifies the whole course.
	Exercises []*course.Exercise
	// WrongOnly runs only the wrong solutions (and their count), not the starter, solution and file checks.
	WrongOnly bool
	// Workers is how many wrong solutions build their test binary at once (CPU work); 0 means runtime.NumCPU().
	Workers int
	// RunWorkers is how many wrong solutions are under way at once, building or running; 0 means
	// RunWorkersPerCPU times Workers. A built test binary mostly waits on servers and timers.
	RunWorkers int
	// MinWrong is how many wrong solutions each exercise needs; 0 means MinWrong. Only labctl's own tests
	// on the fixture course set it lower.
	MinWrong int
}

// Run verifies the lab's course, one chapter at a time (go test runs a chapter's packages in parallel).
// It returns an error only when it cannot run at all (no go toolchain, cancelled); everything wrong with
// the course is a Problem in the report.
func Run(ctx context.Context, l *lab.Lab, opts Options) (*Report, error) {
	rep := &Report{}
	if opts.Exercises == nil {
		stray, err := strayWrong(l)
		if err != nil {
			return rep, err
		}
		rep.Course = stray
	}
	for _, ch := range l.Course().Chapters {
		exercises := selected(ch, opts.Exercises)
		if opts.Exercises != nil && len(exercises) == 0 {
			continue
		}
		if opts.Logf != nil {
			opts.Logf("verifying chapter %s (%s)", ch.ID, ch.Dir)
		}
		start := time.Now()
		cr, err := chapter(ctx, l, ch, exercises, opts)
		if err != nil {
			return rep, fmt.Errorf("verify chapter %s: %w", ch.ID, err)
		}
		cr.Elapsed = time.Since(start)
		rep.Chapters = append(rep.Chapters, cr)
	}
	return rep, nil
}

// selected is the chapter's exercises that the run covers.
func selected(ch *course.Chapter, only []*course.Exercise) []*course.Exercise {
	if only == nil {
		return ch.Exercises
	}
	var out []*course.Exercise
	for _, ex := range ch.Exercises {
		if slices.Contains(only, ex) {
			out = append(out, ex)
		}
	}
	return out
}

// chapter runs every check on one chapter.
func chapter(ctx context.Context, l *lab.Lab, ch *course.Chapter, exercises []*course.Exercise, opts Options) (ChapterReport, error) {
	cr := ChapterReport{Chapter: ch.ID}
	if len(ch.Exercises) == 0 {
		cr.Problems = []Problem{{Chapter: ch.ID, Msg: "empty chapter: the manifest lists no exercise for it"}}
		return cr, nil
	}
	env, stop, err := startInfra(ctx, l, ch)
	if err != nil {
		cr.Problems = []Problem{{Chapter: ch.ID, Msg: "infrastructure unavailable, cannot verify: " + oneLine(err.Error())}}
		return cr, nil
	}
	defer stop()
	if !opts.WrongOnly {
		starter, err := checkStarter(ctx, l, ch, env)
		if err != nil {
			return cr, err
		}
		cr.Problems = append(cr.Problems, starter...)
		solution, err := checkSolution(ctx, l, ch, env)
		if err != nil {
			return cr, err
		}
		cr.Problems = append(cr.Problems, solution...)
		cr.Problems = append(cr.Problems, checkSums(l, ch)...)
		cr.Problems = append(cr.Problems, checkStarterSums(l, ch)...)
		cr.Problems = append(cr.Problems, checkHints(ch)...)
		holes, err := checkHoles(ctx, l, ch)
		if err != nil {
			return cr, err
		}
		cr.Problems = append(cr.Problems, holes...)
		files, err := checkFiles(l, ch)
		if err != nil {
			return cr, err
		}
		cr.Problems = append(cr.Problems, files...)
	}
	workers := cmp.Or(opts.Workers, runtime.NumCPU())
	runWorkers := cmp.Or(opts.RunWorkers, RunWorkersPerCPU*workers)
	wrong, ps, err := checkWrong(ctx, l, ch, exercises, env, workers, runWorkers, cmp.Or(opts.MinWrong, MinWrong), opts.Logf)
	cr.Wrong = wrong
	cr.Problems = append(cr.Problems, ps...)
	return cr, err
}

// startInfra starts one set of servers for the chapter's two runs, as `labctl check` does.
func startInfra(ctx context.Context, l *lab.Lab, ch *course.Chapter) (env []string, stop func(), err error) {
	var services []string
	for _, ex := range ch.Exercises {
		for _, s := range ex.Infra {
			if !slices.Contains(services, s) {
				services = append(services, s)
			}
		}
	}
	if len(services) == 0 || l.StartInfra == nil {
		return nil, func() {}, nil
	}
	slices.Sort(services)
	env, closeFn, err := l.StartInfra(ctx, services, nil)
	if err != nil {
		return nil, nil, err
	}
	return env, func() { _ = closeFn(context.WithoutCancel(ctx)) }, nil
}

// checkSums compares the chapter's test files with tests.sum.
func checkSums(l *lab.Lab, ch *course.Chapter) []Problem {
	changes, err := l.EditedTests(ch)
	if errors.Is(err, lab.ErrNoSums) {
		return []Problem{{Chapter: ch.ID, Msg: err.Error()}}
	}
	if err != nil {
		return []Problem{{Chapter: ch.ID, Msg: "compare tests.sum: " + err.Error()}}
	}
	var ps []Problem
	for _, c := range changes {
		ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("test file %s was %s since tests.sum (run `labctl verify --update-sums` if on purpose)", c.Path, c.Change)})
	}
	return ps
}

// checkStarterSums compares the chapter's Go files with starter.sum, which reset restores from.
func checkStarterSums(l *lab.Lab, ch *course.Chapter) []Problem {
	stale, err := l.StaleStarterSums(ch)
	if err != nil {
		return []Problem{{Chapter: ch.ID, Msg: err.Error()}}
	}
	var ps []Problem
	for _, p := range stale {
		ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("%s differs from %s: run `labctl verify --update-sums` so that reset restores this starter", p, lab.StarterSumsFile)})
	}
	return ps
}

// checkHoles: every exercise marks at least one hole, so that reset and solution know its files.
func checkHoles(ctx context.Context, l *lab.Lab, ch *course.Chapter) ([]Problem, error) {
	var ps []Problem
	for _, ex := range ch.Exercises {
		files, _, err := l.ExerciseFiles(ctx, ex)
		if errors.Is(err, lab.ErrNoStarterSums) {
			return nil, nil // reported by checkStarterSums
		}
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			ps = append(ps, Problem{Chapter: ch.ID, Exercise: ex.ID, Msg: fmt.Sprintf("no starter file marks TODO(%s): reset and solution cannot tell which files are the exercise's", ex.ID)})
		}
	}
	return ps, nil
}

// MinHints is how many hints per language a finished exercise has: the idea, where to look, a narrow
// nudge (../shared/chapter-done.md). The manifest loads with fewer, so that a learner's lab still works.
const MinHints = 3

func checkHints(ch *course.Chapter) []Problem {
	var ps []Problem
	for _, ex := range ch.Exercises {
		if n := min(len(ex.Hints.En), len(ex.Hints.Zh)); n < MinHints {
			ps = append(ps, Problem{Chapter: ch.ID, Exercise: ex.ID, Msg: fmt.Sprintf("%d hints per language, want at least %d: the idea, where to look, a narrow nudge", n, MinHints)})
		}
	}
	return ps
}
