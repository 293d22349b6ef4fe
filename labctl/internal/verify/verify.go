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
	"sync"
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
	// Chapters is how many chapters are verified at once; 0 means ChaptersAtOnce.
	Chapters int
	// MinWrong is how many wrong solutions each exercise needs; 0 means MinWrong. Only labctl's own tests
	// on the fixture course set it lower.
	MinWrong int
}

// ChaptersAtOnce is how many chapters are verified at the same time by default (Options.Chapters). The
// next chapter's starter and solution runs fill the time in which the last slow wrong solutions of the
// one before it wait on their servers; the build and run slots stay shared, so the load stays bounded.
const ChaptersAtOnce = 2

// Run verifies the lab's course, a few chapters at a time (go test runs a chapter's packages in parallel).
// It returns an error only when it cannot run at all (no go toolchain, cancelled); everything wrong with
// the course is a Problem in the report, and the chapters are reported in course order.
func Run(ctx context.Context, l *lab.Lab, opts Options) (*Report, error) {
	rep := &Report{}
	if opts.Exercises == nil {
		stray, err := strayWrong(l)
		if err != nil {
			return rep, err
		}
		rep.Course = stray
	}
	var chapters []*course.Chapter
	for _, ch := range l.Course().Chapters {
		if opts.Exercises != nil && len(selected(ch, opts.Exercises)) == 0 {
			continue
		}
		chapters = append(chapters, ch)
	}
	workers := cmp.Or(opts.Workers, runtime.NumCPU())
	run := &run{
		l: l, opts: opts, infra: newInfraPool(l),
		slots: newSlots(workers, cmp.Or(opts.RunWorkers, RunWorkersPerCPU*workers)),
	}
	defer func() { _ = run.infra.close(context.WithoutCancel(ctx)) }()

	reports := make([]ChapterReport, len(chapters))
	errs := make([]error, len(chapters))
	sem := make(chan struct{}, max(1, cmp.Or(opts.Chapters, ChaptersAtOnce)))
	var wg sync.WaitGroup
	for _, i := range longestFirst(l, chapters) {
		ch := chapters[i]
		if err := acquire(ctx, sem); err != nil {
			errs[i] = err
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if opts.Logf != nil {
				opts.Logf("verifying chapter %s (%s)", ch.ID, ch.Dir)
			}
			start := time.Now()
			cr, err := run.chapter(ctx, ch, selected(ch, opts.Exercises))
			if err != nil {
				errs[i] = fmt.Errorf("verify chapter %s: %w", ch.ID, err)
				return
			}
			cr.Elapsed = time.Since(start)
			reports[i] = cr
			if opts.Logf != nil {
				opts.Logf("chapter %s verified in %v (%d problems)", ch.ID, cr.Elapsed.Round(time.Second), len(cr.Problems))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, err
	}
	rep.Chapters = reports
	return rep, nil
}

// longestFirst is the order to start the chapters in: most wrong solutions first (each builds and runs a
// test binary, which is most of a chapter's time), ties in course order. Started last, the longest chapter
// would run on alone at the end while the other chapter slots stay empty. Reports stay in course order.
func longestFirst(l *lab.Lab, chapters []*course.Chapter) []int {
	work := map[string]int{} // exercise id -> wrong solutions
	if all, err := l.WrongSolutions(); err == nil {
		for _, w := range all {
			work[w.Exercise]++
		}
	}
	weight := func(ch *course.Chapter) int {
		n := 0
		for _, ex := range ch.Exercises {
			n += work[ex.ID]
		}
		return n
	}
	order := make([]int, len(chapters))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(weight(chapters[b]), weight(chapters[a])) })
	return order
}

// run is what the chapters of one verification share: the servers and the slots for wrong solutions.
type run struct {
	l     *lab.Lab
	opts  Options
	infra *infraPool
	slots *slots
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
func (r *run) chapter(ctx context.Context, ch *course.Chapter, exercises []*course.Exercise) (ChapterReport, error) {
	l, opts := r.l, r.opts
	cr := ChapterReport{Chapter: ch.ID}
	if len(ch.Exercises) == 0 {
		cr.Problems = []Problem{{Chapter: ch.ID, Msg: "empty chapter: the manifest lists no exercise for it"}}
		return cr, nil
	}
	env, err := r.infra.env(ctx, ch)
	if err != nil {
		if ctx.Err() != nil {
			return cr, ctx.Err()
		}
		cr.Problems = []Problem{{Chapter: ch.ID, Msg: "infrastructure unavailable, cannot verify: " + oneLine(err.Error())}}
		return cr, nil
	}
	if !opts.WrongOnly {
		// The starter and solution runs are a chapter's go test each: they take a run slot like a wrong
		// solution, so that an overlapping chapter does not pile them on top of a full set of those.
		if err := r.slots.acquireRun(ctx); err != nil {
			return cr, err
		}
		starter, err := checkStarter(ctx, l, ch, env)
		if err == nil {
			cr.Problems = append(cr.Problems, starter...)
			var solution []Problem
			solution, err = checkSolution(ctx, l, ch, env)
			cr.Problems = append(cr.Problems, solution...)
		}
		r.slots.releaseRun()
		if err != nil {
			return cr, err
		}
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
	wrong, ps, err := checkWrong(ctx, l, ch, exercises, env, r.slots, cmp.Or(opts.MinWrong, MinWrong), opts.Logf)
	cr.Wrong = wrong
	cr.Problems = append(cr.Problems, ps...)
	return cr, err
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
