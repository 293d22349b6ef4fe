package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"github.com/aymanbagabas/go-udiff/myers"
)

// ErrNoSolution means the target has no solution files.
var ErrNoSolution = errors.New("no solution files for this target")

// solutionFilesFor returns the solution files of a target: a chapter's (or the course's) all, an
// exercise's those that replace the files marking its holes (see ExerciseFiles). Keys are chapters/
// paths, values solutions/ paths.
func (l *Lab) solutionFilesFor(ctx context.Context, target string) (map[string]string, error) {
	exercises, err := l.Resolve(target)
	if err != nil {
		return nil, err
	}
	files, err := l.SolutionFiles(l.chaptersOf(exercises))
	if err != nil {
		return nil, err
	}
	if ex := l.course.Exercise(strings.TrimSpace(target)); ex != nil {
		own, _, err := l.ExerciseFiles(ctx, ex)
		if err != nil {
			return nil, err
		}
		for dst := range files {
			if !slices.Contains(own, dst) {
				delete(files, dst)
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSolution, targetName(target))
	}
	return files, nil
}

// ApplySolution copies the target's solution files over the learner's files, after backing those up.
func (l *Lab) ApplySolution(ctx context.Context, target string) (*Change, error) {
	files, err := l.solutionFilesFor(ctx, target)
	if err != nil {
		return nil, err
	}
	contents := map[string][]byte{}
	for dst, src := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("read solution: %w", err)
		}
		contents[dst] = data
	}
	ch, err := l.write(contents)
	l.forgetStatuses(ch)
	return ch, err
}

// SolutionDiff returns a unified diff from the learner's files to the target's solution
// ("" when they are the same). It changes nothing.
func (l *Lab) SolutionDiff(target string) (string, error) {
	files, err := l.solutionFilesFor(context.Background(), target)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, dst := range slices.Sorted(maps.Keys(files)) {
		mine, err := os.ReadFile(dst)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read your file: %w", err)
		}
		sol, err := os.ReadFile(files[dst])
		if err != nil {
			return "", fmt.Errorf("read solution: %w", err)
		}
		rel, _ := filepath.Rel(l.Root(), dst)
		srel, _ := filepath.Rel(l.Root(), files[dst])
		// Line-based Myers edits read like `diff -u`; udiff's default edits are per character, which
		// shows unchanged lines as removed and added again.
		edits := myers.ComputeEdits(string(mine), string(sol))
		d, err := udiff.ToUnified(filepath.ToSlash(rel), filepath.ToSlash(srel), string(mine), edits, 3)
		if err != nil {
			return "", fmt.Errorf("diff %s: %w", rel, err)
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

func targetName(target string) string {
	if target == "" {
		return "the whole course"
	}
	return target
}
