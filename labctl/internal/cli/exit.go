package cli

import (
	"context"
	"errors"

	"github.com/gomicrolab/microlab/infra"
	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Exit codes. The table is repeated in `labctl --help` (exitCodesHelp); keep them in step.
const (
	ExitOK          = 0   // every selected check passed (or the command did what it was asked)
	ExitFailed      = 1   // a check failed, did not compile, timed out, was skipped or matched no test; verify found problems
	ExitBadInput    = 2   // unknown chapter or exercise, broken manifest, bad flags or arguments, nothing to confirm with
	ExitInfra       = 3   // the environment cannot run checks: infrastructure unavailable, or no go toolchain in PATH
	ExitInternal    = 4   // labctl itself failed (file system, git)
	ExitInterrupted = 130 // Ctrl-C
)

const exitCodesHelp = `Exit codes:
  0    all selected checks passed
  1    a check failed (test failure, compile error, timeout, skip, no matching test); verify found problems
  2    bad input: unknown chapter or exercise, broken manifest, bad flags, no confirmation for reset
  3    environment: infrastructure unavailable, or no go toolchain in PATH
  4    labctl itself failed (file system, git)
  130  interrupted (Ctrl-C)`

// exitError carries an exit code; quiet ones have already told the user what happened.
type exitError struct {
	code  int
	err   error
	quiet bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return "exit status"
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// quietExit ends the command with code and prints nothing more.
func quietExit(code int) error {
	if code == ExitOK {
		return nil
	}
	return &exitError{code: code, quiet: true}
}

// badInput is an error in what the user typed.
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// knownCode maps the errors labctl understands to exit codes.
func knownCode(err error) (int, bool) {
	var ee *exitError
	var unavailable *infra.UnavailableError
	switch {
	case err == nil:
		return ExitOK, true
	case errors.As(err, &ee):
		return ee.code, true
	case errors.Is(err, context.Canceled):
		return ExitInterrupted, true
	case errors.Is(err, course.ErrInvalidManifest), errors.Is(err, course.ErrUnknownTarget),
		errors.Is(err, lab.ErrNotGitCheckout), errors.Is(err, lab.ErrNoSolution):
		return ExitBadInput, true
	case errors.Is(err, lab.ErrInfraUnavailable), errors.Is(err, runner.ErrNoGoToolchain), errors.As(err, &unavailable):
		return ExitInfra, true
	case errors.Is(err, runner.ErrGoTest):
		return ExitFailed, true
	}
	return 0, false
}

// exitCode is the process exit code for what Execute returned; errors labctl does not know came
// from cobra's parsing of arguments and flags.
func exitCode(err error) int {
	if code, ok := knownCode(err); ok {
		return code
	}
	return ExitBadInput
}

// outcome is the exit code for a set of results: infrastructure trouble outranks failures, because
// the learner must fix it before the failures mean anything.
func outcome(results []runner.ExerciseResult) int {
	code := ExitOK
	for _, r := range results {
		switch r.Status {
		case runner.StatusPass:
		case runner.StatusInfraError:
			return ExitInfra
		default:
			code = ExitFailed
		}
	}
	return code
}
