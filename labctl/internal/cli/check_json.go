package cli

import (
	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// The --json document of `labctl check`. It is a stable interface: add fields, never rename or
// remove them, and bump checkJSONVersion if a meaning changes.
const checkJSONVersion = 1

type checkJSON struct {
	Version   int            `json:"version"`
	Passed    bool           `json:"passed"`    // every exercise passed
	ExitCode  int            `json:"exit_code"` // the process exit code, see labctl --help
	Solution  bool           `json:"solution"`  // checked with the solution overlay
	Warnings  []string       `json:"warnings"`
	Error     string         `json:"error,omitempty"` // why the check could not run (then exercises is empty)
	Exercises []exerciseJSON `json:"exercises"`
}

type exerciseJSON struct {
	ID            string             `json:"id"`
	Chapter       string             `json:"chapter"`
	Status        string             `json:"status"` // pass, pass-modified, fail, skip, compile-error, infra-error, timeout, not-run, no-tests
	Message       string             `json:"message,omitempty"`
	Tests         []testJSON         `json:"tests"`
	CompileErrors []compileErrorJSON `json:"compile_errors"`
}

type testJSON struct {
	Package   string `json:"package"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Message   string `json:"message,omitempty"`
	Panic     bool   `json:"panic"`
}

type compileErrorJSON struct {
	File    string `json:"file"` // relative to chapters/
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

func toCheckJSON(c *course.Course, results []runner.ExerciseResult, solution bool, warnings []string) checkJSON {
	doc := checkJSON{Version: checkJSONVersion, Solution: solution, Warnings: warnings, ExitCode: outcome(results)}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	doc.Passed = doc.ExitCode == ExitOK
	doc.Exercises = []exerciseJSON{}
	for _, r := range results {
		e := exerciseJSON{ID: r.ExerciseID, Status: string(r.Status), Message: r.Message,
			Tests: []testJSON{}, CompileErrors: []compileErrorJSON{}}
		if ex := c.Exercise(r.ExerciseID); ex != nil {
			e.Chapter = ex.Chapter
		}
		for _, t := range r.Tests {
			e.Tests = append(e.Tests, testJSON{Package: t.Package, Name: t.Name, Status: string(t.Status),
				ElapsedMS: t.Elapsed.Milliseconds(), Message: t.Message, Panic: t.Panic})
		}
		for _, ce := range r.CompileErrors {
			e.CompileErrors = append(e.CompileErrors, compileErrorJSON(ce))
		}
		doc.Exercises = append(doc.Exercises, e)
	}
	return doc
}
