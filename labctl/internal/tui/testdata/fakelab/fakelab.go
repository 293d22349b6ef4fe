// Package fakelab is a scripted tui.Lab for the UI's tests and its tmux smoke program: a small two-chapter
// course whose exercises show every status, canned check results, hints, lessons and a change feed.
package fakelab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
	"github.com/gomicrolab/microlab/labctl/internal/tui"
)

// ErrNoHints is NextHint's error for an exercise without hints.
var ErrNoHints = errors.New("fakelab: exercise has no hints")

// ErrNoLesson is Lesson's error for an unknown chapter.
var ErrNoLesson = errors.New("fakelab: no lesson")

// ErrNoSolution is SolutionDiff's error for an exercise without a canned diff.
var ErrNoSolution = errors.New("fakelab: no solution")

// Lab implements tui.Lab from memory. Its zero value is not usable: call New.
type Lab struct {
	mu       sync.Mutex
	course   *course.Course
	statuses map[string]runner.Status
	results  map[string]runner.ExerciseResult
	events   map[string][]runner.Event
	lessons  map[string]string
	diffs    map[string]string
	diffAsks []string // exercise ids SolutionDiff was called with
	shown    map[string]int
	block    bool
	checks   [][]string
	started  chan []string
	changes  chan string
	watchErr error
	watches  int
	inFlight int // Check calls that have not returned
}

// windDown is how long a cancelled blocking check takes to return, as the real one takes to kill go test.
const windDown = 200 * time.Millisecond

var _ tui.Lab = (*Lab)(nil)

// New returns the scripted course. Chapter 00 resumes at 00-pool (00-cancel passed);
// chapter 01's exercises show skip, compile error, infra error and timeout.
func New() *Lab {
	l := &Lab{
		course: sampleCourse(), statuses: sampleStatuses(), results: sampleResults(), events: sampleEvents(),
		lessons: sampleLessons(), diffs: sampleDiffs(), shown: map[string]int{},
		started: make(chan []string, 16), changes: make(chan string, 16),
	}
	return l
}

// Course returns the sample course.
func (l *Lab) Course() *course.Course { return l.course }

// Status returns the status recorded for the exercise, StatusNotRun if none.
func (l *Lab) Status(exerciseID string) runner.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.statuses[exerciseID]; ok {
		return s
	}
	return runner.StatusNotRun
}

// Check streams the canned events, then returns the canned results. When blocking it waits for ctx
// to end and reports every exercise as not run, with ctx's error, as the real lab does.
func (l *Lab) Check(ctx context.Context, exercises []*course.Exercise, opts tui.CheckOptions,
	events chan<- runner.Event) ([]runner.ExerciseResult, error) {
	ids := make([]string, len(exercises))
	for i, ex := range exercises {
		ids[i] = ex.ID
	}
	l.mu.Lock()
	l.checks = append(l.checks, ids)
	block := l.block
	l.inFlight++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.inFlight--
		l.mu.Unlock()
	}()
	select {
	case l.started <- ids:
	default: // nobody is waiting for this many checks
	}
	if opts.Logf != nil {
		opts.Logf("checking %d exercise(s)", len(ids))
	}
	if opts.Progress != nil && len(exercises) > 0 {
		opts.Progress(lab.Step{Kind: lab.StepCompile, Name: exercises[0].Chapter})
	}
	for _, id := range ids {
		if err := l.stream(ctx, id, events); err != nil {
			return notRun(ids), err
		}
	}
	if block {
		<-ctx.Done()
		time.Sleep(windDown)
		return notRun(ids), ctx.Err()
	}
	return l.finish(ids), nil
}

func (l *Lab) stream(ctx context.Context, id string, events chan<- runner.Event) error {
	for _, ev := range l.events[id] {
		select {
		case events <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (l *Lab) finish(ids []string) []runner.ExerciseResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]runner.ExerciseResult, len(ids))
	for i, id := range ids {
		r, ok := l.results[id]
		if !ok {
			r = runner.ExerciseResult{ExerciseID: id, Status: runner.StatusPass}
		}
		out[i] = r
		l.statuses[id] = r.Status
	}
	return out
}

// SetResult replaces the canned result of r.ExerciseID.
func (l *Lab) SetResult(r runner.ExerciseResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results[r.ExerciseID] = r
}

func notRun(ids []string) []runner.ExerciseResult {
	out := make([]runner.ExerciseResult, len(ids))
	for i, id := range ids {
		out[i] = runner.ExerciseResult{ExerciseID: id, Status: runner.StatusNotRun}
	}
	return out
}

// NextHint reveals the exercise's hints one by one (1-based), repeating the last once all are shown.
func (l *Lab) NextHint(exerciseID string) (index, total int, hint course.Text, err error) {
	ex := l.course.Exercise(exerciseID)
	if ex == nil || len(ex.Hints.En) == 0 {
		return 0, 0, course.Text{}, fmt.Errorf("hint for %s: %w", exerciseID, ErrNoHints)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	total = len(ex.Hints.En)
	i := min(l.shown[exerciseID], total-1)
	l.shown[exerciseID] = i + 1
	return i + 1, total, course.Text{En: ex.Hints.En[i], Zh: ex.Hints.Zh[i]}, nil
}

// RevealedHints returns the hints NextHint has revealed, in order.
func (l *Lab) RevealedHints(exerciseID string) []course.Text {
	ex := l.course.Exercise(exerciseID)
	if ex == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.shown[exerciseID]
	out := make([]course.Text, n)
	for i := range n {
		out[i] = course.Text{En: ex.Hints.En[i], Zh: ex.Hints.Zh[i]}
	}
	return out
}

// RevealHints marks the first n hints as revealed, as an earlier session would have.
func (l *Lab) RevealHints(exerciseID string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown[exerciseID] = n
}

// Lesson returns the chapter's README in "en" or "zh".
func (l *Lab) Lesson(chapterID, lang string) (string, error) {
	md, ok := l.lessons[chapterID+"/"+lang]
	if !ok {
		return "", fmt.Errorf("lesson %s/%s: %w", chapterID, lang, ErrNoLesson)
	}
	return md, nil
}

// SolutionDiff returns the exercise's canned diff from the learner's files to the solution.
func (l *Lab) SolutionDiff(target string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.diffAsks = append(l.diffAsks, target)
	d, ok := l.diffs[target]
	if !ok {
		return "", fmt.Errorf("solution diff %s: %w", target, ErrNoSolution)
	}
	return d, nil
}

// DiffAsks returns the targets of every SolutionDiff call so far.
func (l *Lab) DiffAsks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.diffAsks...)
}

// Watch relays Change calls until ctx ends, then closes the channel.
func (l *Lab) Watch(ctx context.Context, chapterID string) (<-chan string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.watchErr != nil {
		return nil, l.watchErr
	}
	l.watches++
	out := make(chan string)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-l.changes:
				select {
				case out <- p:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// SetBlocking makes later checks wait for cancellation.
func (l *Lab) SetBlocking(block bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.block = block
}

// SetWatchError makes Watch fail with err.
func (l *Lab) SetWatchError(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watchErr = err
}

// Change feeds one changed path to the running watch.
func (l *Lab) Change(path string) { l.changes <- path }

// WaitCheck waits for the next Check call to start and returns the exercise ids it was given.
func (l *Lab) WaitCheck(timeout time.Duration) ([]string, error) {
	select {
	case ids := <-l.started:
		return ids, nil
	case <-time.After(timeout):
		return nil, errors.New("fakelab: no check started")
	}
}

// InFlight is the number of Check calls that have not returned yet.
func (l *Lab) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// Checks returns the exercise ids of every Check call so far.
func (l *Lab) Checks() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]string(nil), l.checks...)
}
