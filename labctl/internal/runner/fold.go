package runner

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// StatusNoTests means the exercise's pattern matched no test in its package: a manifest or test defect,
// reported on its own so that it is never mistaken for a pass or a learner's failure.
const StatusNoTests Status = "no-tests"

// severity orders statuses: an exercise takes the most severe status among its tests.
var severity = []Status{StatusPass, StatusModified, StatusSkip, StatusNotRun, StatusNoTests, StatusFail, StatusTimeout, StatusInfraError, StatusCompileError}

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
	// go test -timeout bounds each package's test binary: the exercises of one package add up.
	perPackage := map[string]time.Duration{}
	for _, ex := range exercises {
		perPackage[ex.Package] += ex.TestTimeout()
		req.Timeout = max(req.Timeout, perPackage[ex.Package])
	}
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
		explainNoTests(&res, pr, ex)
		return res
	}
	res.Status = StatusPass
	for _, t := range res.Tests {
		res.Status = worse(res.Status, t.Status)
	}
	if (res.Status == StatusPass || res.Status == StatusSkip) && pr.Done && pr.Failed {
		blameFailedPackage(&res, pr, ex.Tests)
	}
	return res
}

// explainNoTests says why none of the exercise's tests reported: the pattern matches nothing, the
// binary failed first (TestMain, init), or the run stopped.
func explainNoTests(res *ExerciseResult, pr *PackageReport, ex *course.Exercise) {
	switch {
	case pr.Done && !pr.Failed:
		res.Status = StatusNoTests
		res.Message = fmt.Sprintf("no test in %s matches %q", ex.Package, ex.Tests)
	case pr.Done:
		res.Status = binaryFailure(pr)
		res.Message = "the test binary failed before these tests ran:\n" + lastLines(pr.Output, maxMessageLines)
	default:
		res.Message = "the run stopped before these tests started"
	}
}

// blameFailedPackage keeps a package that failed from passing an exercise whose own tests all passed:
// either the binary died early and some of the exercise's tests may never have started, or it
// failed outside every test (TestMain, a leak check, os.Exit between tests).
func blameFailedPackage(res *ExerciseResult, pr *PackageReport, pattern string) {
	switch {
	case pr.stoppedBy != "":
		if !ranAll(pattern, res.Tests) {
			res.Status = StatusNotRun
			res.Message = pr.stoppedBy + " stopped the test binary before every test of this exercise could run; " +
				"fix it first, or check this exercise on its own"
		}
	case !slices.ContainsFunc(pr.Tests, func(t TestResult) bool { return t.Status != StatusPass && t.Status != StatusSkip }):
		res.Status = binaryFailure(pr)
		res.Message = "its tests passed, but the test binary failed after them (TestMain, a leak check or os.Exit):\n" +
			lastLines(pr.Output, maxMessageLines)
	}
}

// binaryFailure is the status of a failure outside every test: an infrastructure error when the
// binary said so (a TestMain that starts shared servers), else a failure.
func binaryFailure(pr *PackageReport) Status {
	if lineWith(pr.Output, UnavailablePrefix) != "" {
		return StatusInfraError
	}
	return StatusFail
}

// exactPattern matches -run patterns that name their tests outright: "^TestA$", "^(TestA|TestB)$".
var exactPattern = regexp.MustCompile(`^\^(?:\((?:\?:)?([\w|]+)\)|(\w+))\$$`)

// ranAll reports whether every test the pattern can select is among the results; only a pattern
// that lists whole names can promise that.
func ranAll(pattern string, results []TestResult) bool {
	m := exactPattern.FindStringSubmatch(pattern)
	if m == nil {
		return false
	}
	for name := range strings.SplitSeq(m[1]+m[2], "|") {
		if !slices.ContainsFunc(results, func(t TestResult) bool { return t.Name == name }) {
			return false
		}
	}
	return true
}

// lastLines keeps the last n lines of output, without go test's "=== RUN" framing.
func lastLines(s string, n int) string {
	var lines []string
	for line := range strings.Lines(strings.ReplaceAll(s, "\r\n", "\n")) {
		if line = strings.TrimRight(line, "\n"); !strings.HasPrefix(line, "=== ") {
			lines = append(lines, line)
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
