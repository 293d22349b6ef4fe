package runner

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// StatusNoTests means the exercise's pattern matched no test in its package: a manifest or test defect,
// reported on its own so that it is never mistaken for a pass or a learner's failure.
const StatusNoTests Status = "no-tests"

// severity orders statuses: an exercise takes the most severe status among its tests.
var severity = []Status{StatusPass, StatusSkip, StatusNotRun, StatusNoTests, StatusFail, StatusTimeout, StatusInfraError, StatusCompileError}

func worse(a, b Status) Status {
	if slices.Index(severity, b) > slices.Index(severity, a) {
		return b
	}
	return a
}

// RequestFor returns the request that runs exactly the tests of these exercises (and perhaps a few more
// tests of the same packages when patterns of different packages combine; Fold ignores those).
// One exercise that needs the race detector puts the whole run under -race.
func RequestFor(exercises []*course.Exercise) Request {
	var req Request
	var patterns []string
	for _, ex := range exercises {
		if !slices.Contains(req.Packages, ex.Package) {
			req.Packages = append(req.Packages, ex.Package)
		}
		req.Race = req.Race || ex.Race
		p := "(?:" + ex.Tests + ")"
		if !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	req.Run = strings.Join(patterns, "|")
	return req
}

// Fold maps a report onto exercises: each exercise gets the tests of its package that match its pattern.
func Fold(rep *Report, exercises []*course.Exercise) []ExerciseResult {
	out := make([]ExerciseResult, 0, len(exercises))
	for _, ex := range exercises {
		out = append(out, foldOne(rep, ex))
	}
	return out
}

func foldOne(rep *Report, ex *course.Exercise) ExerciseResult {
	res := ExerciseResult{ExerciseID: ex.ID, Status: StatusNotRun}
	var pr *PackageReport
	if rep != nil {
		pr = rep.Packages[ex.Package]
	}
	if pr == nil || !pr.Started {
		res.Message = "package " + ex.Package + " did not run"
		return res
	}
	if len(pr.CompileErrors) > 0 {
		res.Status = StatusCompileError
		res.CompileErrors = pr.CompileErrors
		res.Message = fmt.Sprintf("package %s does not build", ex.Package)
		return res
	}
	re, err := regexp.Compile(ex.Tests)
	if err != nil { // course.Load rejects this; keep Fold total anyway
		res.Status, res.Message = StatusNoTests, fmt.Sprintf("pattern %q does not compile: %v", ex.Tests, err)
		return res
	}
	for _, t := range pr.Tests {
		if re.MatchString(t.Name) {
			res.Tests = append(res.Tests, t)
		}
	}
	if len(res.Tests) == 0 {
		switch {
		case pr.Done && !pr.Failed:
			res.Status = StatusNoTests
			res.Message = fmt.Sprintf("no test in %s matches %q", ex.Package, ex.Tests)
		case pr.Done:
			res.Status = StatusFail
			res.Message = "the test binary failed before these tests ran:\n" + lastLines(pr.Output, maxMessageLines)
		default:
			res.Message = "the run stopped before these tests started"
		}
		return res
	}
	res.Status = StatusPass
	for _, t := range res.Tests {
		res.Status = worse(res.Status, t.Status)
	}
	return res
}

func lastLines(s string, n int) string {
	lines := regexp.MustCompile(`\r?\n`).Split(s, -1)
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
