// Package lab is the application layer of labctl: it resolves targets, runs checks through the runner,
// keeps progress, hands out hints, and applies or resets solutions. The CLI and the TUI both drive it;
// neither runs processes itself.
package lab

// The exported API (implemented in this package):
//
//	func Open(root string) (*Lab, error)                 // root: repository root (finds chapters/course.toml)
//	func (l *Lab) Course() *course.Course
//	func (l *Lab) Resolve(target string) ([]*course.Exercise, error)   // "00", "00-go-for-services", "00-cancel", "" = all
//	func (l *Lab) Check(ctx context.Context, exercises []*course.Exercise, opts CheckOptions,
//	                    events chan<- runner.Event) ([]runner.ExerciseResult, error)
//	func (l *Lab) Status(exerciseID string) runner.Status  // cached from the last check; StatusNotRun if never checked
//	func (l *Lab) NextHint(exerciseID string) (index, total int, hint course.Text, err error)
//	func (l *Lab) Lesson(chapterID, lang string) (markdown string, err error)
//	func (l *Lab) Watch(ctx context.Context, chapterID string) (<-chan string, error) // debounced changed paths
//
// CheckOptions{Solution bool} applies the solution overlay instead of the learner's code.
//
// Added since the sketch (the sketch's signatures are unchanged):
//
//	func (l *Lab) Root() string
//	func (l *Lab) RevealedHints(exerciseID string) []course.Text
//	func (l *Lab) EditedTests(chapters ...*course.Chapter) ([]TestFileChange, error)
//	func (l *Lab) UpdateTestSums() (int, error)
//	func (l *Lab) Reset(ctx context.Context, target string) (*Change, error)
//	func (l *Lab) ApplySolution(ctx context.Context, target string) (*Change, error)
//	func (l *Lab) SolutionDiff(target string) (string, error)
//	func (l *Lab) SolutionOverlay(chapters []*course.Chapter) (path string, cleanup func(), err error)
//	func (l *Lab) CheckToolchain() error
//	CheckOptions.Logf, CheckOptions.NoCache, CheckOptions.Progress; Lab.StartInfra, Lab.SweepInfra (the infrastructure seams)

import (
	"context"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/progress"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Lab is one course checkout. It is safe for one UI goroutine plus the checks it starts.
type Lab struct {
	course   *course.Course
	runner   *runner.Runner
	progress *progress.Store

	// StartInfra starts the servers the selected exercises need before a check (see infra.go).
	// Nil means the chapter tests find their infrastructure themselves.
	StartInfra InfraStarter
	// SweepInfra runs before StartInfra: it removes the orphans of checks that were killed. It runs again
	// after a check interrupted while its tests ran, with env, the servers' environment the tests had. Nil
	// skips it.
	SweepInfra func(ctx context.Context, env []string)
}

// Open loads the course under root (the repository root, holding chapters/course.toml).
// A broken manifest is a *course.ManifestError (errors.Is course.ErrInvalidManifest).
func Open(root string) (*Lab, error) {
	c, err := course.Load(root)
	if err != nil {
		return nil, err
	}
	return &Lab{
		course:     c,
		runner:     &runner.Runner{Dir: c.ChaptersDir()},
		progress:   progress.Open(c.Root),
		StartInfra: defaultInfraStarter,
		SweepInfra: defaultInfraSweeper,
	}, nil
}

// Course is the validated manifest.
func (l *Lab) Course() *course.Course { return l.course }

// Root is the repository root.
func (l *Lab) Root() string { return l.course.Root }

// Runner gives access to the go test runner, for the course verification.
func (l *Lab) Runner() *runner.Runner { return l.runner }

// Resolve turns "" (all), a chapter id or directory, or an exercise id into exercises.
// An unknown id is an error that errors.Is course.ErrUnknownTarget.
func (l *Lab) Resolve(target string) ([]*course.Exercise, error) { return l.course.Resolve(target) }

// CheckToolchain says whether there is a go command to run checks with (an error wrapping
// runner.ErrNoGoToolchain when not), for commands that must not start without one, such as watch.
func (l *Lab) CheckToolchain() error {
	_, err := l.runner.GoCommand()
	return err
}

// Status is the status of the exercise's last check, or StatusNotRun if it was never checked.
func (l *Lab) Status(exerciseID string) runner.Status {
	if s := l.progress.Get(exerciseID).Status; s != "" {
		return runner.Status(s)
	}
	return runner.StatusNotRun
}
