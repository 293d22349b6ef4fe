package lab

import (
	"context"
	"fmt"
	"maps"
	"strings"
)

// Reset restores the pinned starter (chapters/starter.sum) of a target, after backing up the learner's
// versions: a commit of the learner's own does not change what reset gives back. A chapter (or "" for the
// whole course) gets every starter file back, tests included; an exercise gets back the files that mark
// its holes (see ExerciseFiles; SharedWith says which other exercises share them) and the test files of
// its package. Files the learner added are kept. Without git it returns ErrNotGitCheckout.
func (l *Lab) Reset(ctx context.Context, target string) (*Change, error) {
	exercises, err := l.Resolve(target)
	if err != nil {
		return nil, err
	}
	pinned := map[string]string{} // absolute path -> blob id
	if ex := l.course.Exercise(strings.TrimSpace(target)); ex != nil {
		files, _, err := l.ExerciseFiles(ctx, ex)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%w: no starter file marks TODO(%s)", ErrNoSolution, ex.ID)
		}
		starter, err := l.starter(l.course.Chapter(ex.Chapter))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			pinned[f] = starter[f]
		}
		tests, err := l.exerciseTests(ex)
		if err != nil {
			return nil, err
		}
		maps.Copy(pinned, tests)
	} else {
		for _, ch := range l.chaptersOf(exercises) {
			starter, err := l.starter(ch)
			if err != nil {
				return nil, err
			}
			maps.Copy(pinned, starter)
		}
	}
	contents := map[string][]byte{}
	for path, blob := range pinned {
		data, err := l.starterContent(ctx, blob)
		if err != nil {
			return nil, err
		}
		contents[path] = data
	}
	ch, err := l.write(contents)
	l.forgetStatuses(ch)
	return ch, err
}
