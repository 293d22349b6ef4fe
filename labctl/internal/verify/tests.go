package verify

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// checkStarter: every package of the chapter compiles, and every exercise fails on the starter
// (a failure, a panic or a timeout; not a pass, a skip, a compile error or a missing test).
func checkStarter(ctx context.Context, l *lab.Lab, ch *course.Chapter, env []string) ([]Problem, error) {
	req := runner.RequestFor(ch.Exercises)
	req.Packages = []string{"./" + ch.Dir + "/..."}
	req.Env = env
	rep, err := l.Runner().Run(ctx, req, nil)
	if err != nil {
		return nil, err
	}
	var ps []Problem
	ps = append(ps, compileProblems(ch, rep, "the starter")...)
	for _, r := range runner.Fold(rep, ch.Exercises) {
		p := Problem{Chapter: ch.ID, Exercise: r.ExerciseID}
		switch r.Status {
		case runner.StatusFail, runner.StatusTimeout:
			continue
		case runner.StatusCompileError:
			continue // reported once per package above
		case runner.StatusPass:
			p.Msg = "the starter passes its tests: the exercise proves nothing"
		case runner.StatusSkip:
			p.Msg = "the starter's tests skip instead of failing"
		case runner.StatusInfraError:
			p.Msg = "infrastructure unavailable, cannot verify the starter: " + firstMessage(r)
		default:
			p.Msg = fmt.Sprintf("the starter's result is %s, want fail: %s", r.Status, firstMessage(r))
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// checkSolution: with the solution overlay every test of the chapter passes and none is skipped,
// every exercise's pattern matches a test, and every top-level test belongs to exactly one exercise.
func checkSolution(ctx context.Context, l *lab.Lab, ch *course.Chapter, env []string) ([]Problem, error) {
	overlay, cleanup, err := l.SolutionOverlay([]*course.Chapter{ch})
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rep, err := l.Runner().Run(ctx, runner.Request{Packages: []string{"./" + ch.Dir + "/..."}, Overlay: overlay, Env: env,
		Race: runner.RequestFor(ch.Exercises).Race}, nil)
	if err != nil {
		return nil, err
	}
	ps := compileProblems(ch, rep, "the solution")
	owners := map[string][]string{} // "pkg.Test" -> exercise ids
	for _, pkg := range sortedPackages(rep) {
		for _, t := range rep.Packages[pkg].Tests {
			key := pkg + "." + t.Name
			owners[key] = exercisesOwning(ch, pkg, t.Name)
			if t.Status != runner.StatusPass {
				ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("with the solution, %s in %s is %s, want pass: %s",
					t.Name, pkg, t.Status, oneLine(t.Message))})
			}
			switch n := len(owners[key]); {
			case n == 0 && slices.Contains(ch.Demos, pkg):
				// a demonstration: it must pass, and no exercise owns it
			case n == 0:
				ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("test %s in %s belongs to no exercise", t.Name, pkg)})
			case n > 1:
				ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("test %s in %s belongs to %d exercises: %s",
					t.Name, pkg, n, strings.Join(owners[key], ", "))})
			}
		}
	}
	for _, ex := range ch.Exercises {
		if !slices.ContainsFunc(slices.Collect(maps.Values(owners)), func(ids []string) bool { return slices.Contains(ids, ex.ID) }) {
			ps = append(ps, Problem{Chapter: ch.ID, Exercise: ex.ID, Msg: fmt.Sprintf("pattern %q matches no test in %s", ex.Tests, ex.Package)})
		}
	}
	return ps, nil
}

func compileProblems(ch *course.Chapter, rep *runner.Report, what string) []Problem {
	var ps []Problem
	for _, pkg := range sortedPackages(rep) {
		if ces := rep.Packages[pkg].CompileErrors; len(ces) > 0 {
			ce := ces[0]
			loc := ce.File
			if ce.Line > 0 {
				loc = fmt.Sprintf("chapters/%s:%d:%d: ", ce.File, ce.Line, ce.Col)
			}
			ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("%s of %s does not compile: %s%s", what, pkg, loc, ce.Message)})
		}
	}
	return ps
}

func exercisesOwning(ch *course.Chapter, pkg, test string) []string {
	var ids []string
	for _, ex := range ch.Exercises {
		if ex.Package != pkg {
			continue
		}
		if re, err := regexp.Compile(ex.Tests); err == nil && re.MatchString(test) {
			ids = append(ids, ex.ID)
		}
	}
	return ids
}

func firstMessage(r runner.ExerciseResult) string {
	for _, t := range r.Tests {
		if t.Status != runner.StatusPass && t.Message != "" {
			return oneLine(t.Message)
		}
	}
	return oneLine(r.Message)
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func sortedPackages(rep *runner.Report) []string { return slices.Sorted(maps.Keys(rep.Packages)) }
