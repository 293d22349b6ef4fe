// Package verify is the course integrity check, for authors and CI: every starter compiles and fails,
// every solution passes, the manifest matches the tests, and the test files match tests.sum.
// `labctl verify` and the root module's TestCourse both run it.
package verify

import (
	"context"
	"errors"
	"fmt"
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
}

// Report is the whole verification.
type Report struct {
	Chapters []ChapterReport
}

// Problems lists every problem found, in chapter order.
func (r *Report) Problems() []Problem {
	var out []Problem
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
}

// Run verifies every chapter of the lab's course, one chapter at a time (go test runs a chapter's
// packages in parallel). It returns an error only when it cannot run at all (no go toolchain,
// cancelled); everything wrong with the course is a Problem in the report.
func Run(ctx context.Context, l *lab.Lab, opts Options) (*Report, error) {
	rep := &Report{}
	for _, ch := range l.Course().Chapters {
		if opts.Logf != nil {
			opts.Logf("verifying chapter %s (%s)", ch.ID, ch.Dir)
		}
		start := time.Now()
		problems, err := chapter(ctx, l, ch)
		if err != nil {
			return rep, fmt.Errorf("verify chapter %s: %w", ch.ID, err)
		}
		rep.Chapters = append(rep.Chapters, ChapterReport{Chapter: ch.ID, Elapsed: time.Since(start), Problems: problems})
	}
	return rep, nil
}

// chapter runs every check on one chapter.
func chapter(ctx context.Context, l *lab.Lab, ch *course.Chapter) ([]Problem, error) {
	if len(ch.Exercises) == 0 {
		return []Problem{{Chapter: ch.ID, Msg: "empty chapter: the manifest lists no exercise for it"}}, nil
	}
	var ps []Problem
	env, stop, err := startInfra(ctx, l, ch)
	if err != nil {
		return []Problem{{Chapter: ch.ID, Msg: "infrastructure unavailable, cannot verify: " + oneLine(err.Error())}}, nil
	}
	defer stop()
	starter, err := checkStarter(ctx, l, ch, env)
	if err != nil {
		return nil, err
	}
	ps = append(ps, starter...)
	solution, err := checkSolution(ctx, l, ch, env)
	if err != nil {
		return nil, err
	}
	ps = append(ps, solution...)
	ps = append(ps, checkSums(l, ch)...)
	files, err := checkFiles(l, ch)
	if err != nil {
		return nil, err
	}
	return append(ps, files...), nil
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
