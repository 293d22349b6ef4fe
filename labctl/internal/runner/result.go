// Package runner runs `go test -json` in the learner's module and turns its events into results
// per test and per exercise. It imports no UI code.
package runner

import "time"

// Status is the outcome of one test or one exercise. The five non-pass outcomes are distinct on purpose:
// a learner must know whether to fix code that does not compile, start infrastructure, or fix logic.
type Status string

const (
	StatusPass         Status = "pass"
	StatusFail         Status = "fail"          // an assertion failed or the test panicked
	StatusSkip         Status = "skip"          // never counts as a pass
	StatusModified     Status = "pass-modified" // every test passed, but on test files that differ from the course's: not a pass
	StatusCompileError Status = "compile-error" // the package or its tests do not build
	StatusInfraError   Status = "infra-error"   // infra reported UnavailablePrefix
	StatusTimeout      Status = "timeout"       // the test binary hit its -timeout
	StatusNotRun       Status = "not-run"       // it did not run to the end: a cancelled run, or another test crashed the binary
)

// TestResult is one top-level test.
type TestResult struct {
	Package string
	Name    string
	Status  Status
	Elapsed time.Duration
	Output  string // the test's own output, in order
	Message string // the first failing assertion or error, trimmed for display
	Panic   bool   // the test panicked (Status is StatusFail)
}

// CompileError is one build error location.
type CompileError struct {
	File    string // path relative to chapters/
	Line    int
	Col     int
	Message string
}

// ExerciseResult folds the results of an exercise's tests.
type ExerciseResult struct {
	ExerciseID    string
	Status        Status
	Tests         []TestResult
	CompileErrors []CompileError
	Message       string // why, when the status does not come from a test (no tests matched, build failed, ...)
}

// Event is streamed while a run is under way, for spinners and live output.
type Event struct {
	Package string
	Test    string // empty for package-level output
	Action  string // go test -json action: run, output, pass, fail, skip, build-output, ...
	Output  string
}
