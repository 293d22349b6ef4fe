package lab

import (
	"bytes"
	"context"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// Reset restores the starter files of a target from the HEAD commit, after backing up the learner's
// versions. A chapter (or "" for the whole course) gets every file it had in HEAD back, tests
// included; an exercise gets back the files of its package that mark its holes with TODO(<id>)
// (all non-test files of the package when none do). Files the learner added are kept.
// Without git history it returns ErrNotGitCheckout and changes nothing.
func (l *Lab) Reset(ctx context.Context, target string) (*Change, error) {
	exercises, err := l.Resolve(target)
	if err != nil {
		return nil, err
	}
	ex := l.course.Exercise(strings.TrimSpace(target))
	var files []string
	if ex != nil {
		files, err = l.exerciseStarterFiles(ctx, ex)
	} else {
		for _, ch := range l.chaptersOf(exercises) {
			fs, err2 := l.headFiles(ctx, "chapters/"+ch.Dir)
			if err2 != nil {
				return nil, err2
			}
			files = append(files, fs...)
		}
	}
	if err != nil {
		return nil, err
	}
	contents := map[string][]byte{}
	for _, f := range files {
		data, err := l.headContent(ctx, f)
		if err != nil {
			return nil, err
		}
		contents[filepath.Join(l.Root(), filepath.FromSlash(f))] = data
	}
	ch, err := l.write(contents)
	l.forgetStatuses(ch)
	return ch, err
}

// exerciseStarterFiles lists the HEAD files of the exercise's package that belong to it.
func (l *Lab) exerciseStarterFiles(ctx context.Context, ex *course.Exercise) ([]string, error) {
	pkgDir := path.Clean("chapters/" + strings.TrimPrefix(ex.Package, "./"))
	all, err := l.headFiles(ctx, pkgDir)
	if err != nil {
		return nil, err
	}
	var own, code []string
	marker := []byte("TODO(" + ex.ID + ")")
	for _, f := range all {
		if path.Dir(f) != pkgDir || strings.HasSuffix(f, "_test.go") {
			continue
		}
		code = append(code, f)
		data, err := l.headContent(ctx, f)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(data, marker) {
			own = append(own, f)
		}
	}
	if len(own) > 0 {
		return own, nil
	}
	return code, nil
}
