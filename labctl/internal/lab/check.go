package lab

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/progress"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// CheckOptions change how Check runs.
type CheckOptions struct {
	Solution bool                          // apply the solution overlay instead of the learner's code
	NoCache  bool                          // go test -count=1
	Logf     func(format string, a ...any) // warnings and infrastructure progress; nil drops them
	Progress func(Step)                    // each phase as it begins (servers, compiling, tests); nil drops them
}

func (o CheckOptions) logf(format string, a ...any) {
	if o.Logf != nil {
		o.Logf(format, a...)
	}
}

// Check runs the exercises' tests and returns one result per exercise, in order. It warns (through
// opts.Logf) about edited test files, starts the infrastructure the exercises need, and records the
// statuses in the progress file unless opts.Solution is set. When ctx is cancelled the partial results
// come back with ctx's error; exercises that did not finish are StatusNotRun.
func (l *Lab) Check(ctx context.Context, exercises []*course.Exercise, opts CheckOptions,
	events chan<- runner.Event) ([]runner.ExerciseResult, error) {
	if len(exercises) == 0 {
		return nil, nil
	}
	if _, err := l.runner.GoCommand(); err != nil {
		return nil, err // before servers start or a "compiling" line: there is nothing to run the tests with
	}
	chapters := l.chaptersOf(exercises)
	edited, err := l.EditedTests(chapters...)
	switch {
	case errors.Is(err, ErrNoSums):
		opts.logf("warning: %s is missing, so edited tests cannot be detected (restore it with `git checkout %s`)", SumsFile, SumsFile)
	case err == nil:
		for _, e := range edited {
			opts.logf("warning: test file %s was %s; checks use your copy (restore it with `labctl reset`)", e.Path, e.Change)
		}
	}
	req := runner.RequestFor(exercises)
	req.NoCache = opts.NoCache
	if opts.Solution {
		path, cleanup, err := l.SolutionOverlay(chapters)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		req.Overlay = path
	}
	// One service that cannot start must not blank the others: the exercises that need it are infra
	// errors with the reason, the rest still run.
	var down map[string]error
	services := infraOf(exercises)
	if len(services) > 0 && l.StartInfra != nil {
		if l.SweepInfra != nil {
			l.SweepInfra(ctx, nil)
		}
		env, stop, failed := l.startEach(ctx, services, opts)
		defer func() { _ = stop(context.WithoutCancel(ctx)) }()
		if err := ctx.Err(); err != nil { // interrupted while starting: that is the cause, not the servers
			return nil, err
		}
		req.Env, down = env, failed
	}
	runnable := slices.DeleteFunc(slices.Clone(exercises), func(ex *course.Exercise) bool { return downFor(ex, down) != "" })
	if len(runnable) == 0 {
		results := infraResults(exercises, down)
		if !opts.Solution {
			l.record(results)
		}
		return results, nil
	}
	if len(runnable) < len(exercises) {
		run := runner.RequestFor(runnable)
		req.Packages, req.Run, req.Race, req.Timeout = run.Packages, run.Run, run.Race, run.Timeout
	}
	opts.step(compileStep(l.course, runnable))
	if opts.Progress != nil {
		var wait func()
		events, wait = watchSteps(ctx, opts, events)
		defer wait() // before Check returns: the caller may close its channel then
	}
	rep, runErr := l.runner.Run(ctx, req, events)
	if ctx.Err() != nil && len(services) > 0 && l.StartInfra != nil && l.SweepInfra != nil {
		// The tests were killed before their cleanups: remove what they registered on servers that outlive
		// this check (services on a `labctl infra up` Consul), not at the next check.
		l.SweepInfra(context.WithoutCancel(ctx), req.Env)
	}
	if rep == nil {
		return nil, runErr
	}
	results := runner.Fold(rep, exercises)
	for i, ex := range exercises {
		if why := downFor(ex, down); why != "" {
			results[i] = infraResults([]*course.Exercise{ex}, down)[0]
		}
	}
	markModified(results, l.course, edited)
	if !opts.Solution {
		l.record(results)
	}
	return results, runErr
}

// startEach starts each service on its own, so that one that cannot start is told apart from those that
// can. It returns the environment of the started ones, one stop for them all, and why each other failed.
func (l *Lab) startEach(ctx context.Context, services []string, opts CheckOptions) ([]string, func(context.Context) error, map[string]error) {
	var env []string
	var stops []func(context.Context) error
	failed := map[string]error{}
	logf := opts.logf
	if opts.Progress != nil {
		logf = func(format string, a ...any) {
			if format != "starting %s" { // infra's own start line: the step below says it already
				opts.logf(format, a...)
			}
		}
	}
	for _, s := range services {
		opts.step(Step{Kind: StepInfra, Name: s})
		e, stop, err := l.StartInfra(ctx, []string{s}, logf)
		if err != nil {
			failed[s] = err
			continue
		}
		env = append(env, e...)
		stops = append(stops, stop)
	}
	return env, func(ctx context.Context) error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop(ctx))
		}
		return errors.Join(errs...)
	}, failed
}

// downFor says why an exercise cannot run ("" when it can): the first service it needs that is down.
func downFor(ex *course.Exercise, down map[string]error) string {
	for _, s := range ex.Infra {
		if err, ok := down[s]; ok {
			return fmt.Sprintf("%s: %s unavailable: %v", ErrInfraUnavailable, s, err)
		}
	}
	return ""
}

// ParseInfraDown takes apart the message of an exercise that could not run for want of a service (the
// one downFor words), so that a UI can word it in its own language.
func ParseInfraDown(msg string) (service, reason string, ok bool) {
	rest, ok := strings.CutPrefix(msg, ErrInfraUnavailable.Error()+": ")
	if !ok {
		return "", "", false
	}
	service, reason, ok = strings.Cut(rest, " unavailable: ")
	return service, reason, ok
}

// infraResults are the results of exercises that could not run for want of a service.
func infraResults(exercises []*course.Exercise, down map[string]error) []runner.ExerciseResult {
	out := make([]runner.ExerciseResult, 0, len(exercises))
	for _, ex := range exercises {
		out = append(out, runner.ExerciseResult{ExerciseID: ex.ID, Status: runner.StatusInfraError, Message: downFor(ex, down)})
	}
	return out
}

// markModified turns a pass into StatusModified when a test file of the exercise's package differs from
// the course's: a pass on tests the learner changed proves nothing, and must never be recorded as one.
func markModified(results []runner.ExerciseResult, c *course.Course, edited []TestFileChange) {
	for i, r := range results {
		if r.Status != runner.StatusPass {
			continue
		}
		pkg := path.Clean(c.Exercise(r.ExerciseID).Package) // "00-x/pool", like the paths in tests.sum
		var files []string
		for _, e := range edited {
			if path.Dir(e.Path) == pkg {
				files = append(files, e.Path+" ("+e.Change+")")
			}
		}
		if len(files) > 0 {
			results[i].Status = runner.StatusModified
			results[i].Message = fmt.Sprintf("passed on modified tests: %s; `labctl reset %s` restores them (after a backup)",
				strings.Join(files, ", "), r.ExerciseID)
		}
	}
}

// record caches the statuses; a failure to write the cache is not a failed check.
func (l *Lab) record(results []runner.ExerciseResult) {
	now := time.Now().UTC()
	for _, r := range results {
		if r.Status == runner.StatusNotRun {
			continue // a cancelled run says nothing about the code
		}
		l.progress.Update(r.ExerciseID, func(e *progress.Entry) {
			e.Status, e.CheckedAt = string(r.Status), now
		})
	}
	_ = l.progress.Save()
}

func (l *Lab) chaptersOf(exercises []*course.Exercise) []*course.Chapter {
	var out []*course.Chapter
	for _, ex := range exercises {
		if ch := l.course.Chapter(ex.Chapter); ch != nil && !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// infraOf is the sorted union of the exercises' infrastructure needs.
func infraOf(exercises []*course.Exercise) []string {
	var out []string
	for _, ex := range exercises {
		for _, s := range ex.Infra {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}
