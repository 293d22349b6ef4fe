package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// WrongDir is where the committed wrong solutions live, relative to the repository root:
// solutions/wrong/<exercise-id>/<name>.patch (docs/authoring.md, "Wrong solutions").
const WrongDir = "solutions/wrong"

// ErrBadPatch means a wrong solution's patch cannot be used: it does not parse, does not apply to the
// reference solution, or touches a file it must not (a test, another chapter).
var ErrBadPatch = errors.New("bad wrong-solution patch")

// WrongSolution is a committed wrong solution: the reference solution with one mistake, kept as a patch.
type WrongSolution struct {
	Exercise string // the exercise it must fail
	Name     string // the patch's file name without .patch
	Path     string // absolute path of the patch
}

// ID names it in reports: "<exercise>/<name>".
func (w WrongSolution) ID() string { return w.Exercise + "/" + w.Name }

// WrongSolutions lists every patch under solutions/wrong, sorted by exercise then name. Directories that
// name no exercise are listed too (Exercise is the directory name), so that verify can report them.
func (l *Lab) WrongSolutions() ([]WrongSolution, error) {
	dir := filepath.Join(l.course.Root, filepath.FromSlash(WrongDir))
	exDirs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", WrongDir, err)
	}
	var out []WrongSolution
	for _, d := range exDirs {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", WrongDir, d.Name(), err)
		}
		for _, f := range files {
			if name, ok := strings.CutSuffix(f.Name(), ".patch"); ok && f.Type().IsRegular() {
				out = append(out, WrongSolution{Exercise: d.Name(), Name: name, Path: filepath.Join(dir, d.Name(), f.Name())})
			}
		}
	}
	slices.SortFunc(out, func(a, b WrongSolution) int { return strings.Compare(a.ID(), b.ID()) })
	return out, nil
}

// Mistake is the patch's first line: one sentence that says what is wrong.
func (w WrongSolution) Mistake() (string, error) {
	f, err := os.Open(w.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "diff ") {
			return line, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%w: %s: the first line must say what the mistake is", ErrBadPatch, w.ID())
}

// WrongOverlay writes a `go test -overlay` file that puts the chapter's solution in place, then the wrong
// solution's patch on top of it. The patch's paths are relative to the repository root and may name a
// solution file (solutions/<chapter>/...) or a starter file (chapters/<chapter>/...); either way the patch
// applies to what the learner's file is once the solution is in place. Nothing on disk changes.
func (l *Lab) WrongOverlay(ch *course.Chapter, w WrongSolution) (path string, cleanup func(), err error) {
	replace, err := l.SolutionFiles([]*course.Chapter{ch})
	if err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(w.Path)
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", w.ID(), err)
	}
	files, _, err := gitdiff.Parse(bytes.NewReader(data))
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrBadPatch, w.ID(), err)
	}
	if len(files) == 0 {
		return "", nil, fmt.Errorf("%w: %s: the patch changes no file", ErrBadPatch, w.ID())
	}
	tmp, err := os.MkdirTemp("", "labctl-wrong-*")
	if err != nil {
		return "", nil, fmt.Errorf("write overlay: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	for _, f := range files {
		target, err := l.patchTarget(ch, w, f)
		if err != nil {
			cleanup()
			return "", nil, err
		}
		if f.IsDelete {
			replace[target] = "" // an empty replacement deletes the file in an overlay
			continue
		}
		var base []byte
		if !f.IsNew {
			from := target
			if sol, ok := replace[target]; ok {
				from = sol
			}
			if base, err = os.ReadFile(from); err != nil {
				cleanup()
				return "", nil, fmt.Errorf("%w: %s: %s: %v", ErrBadPatch, w.ID(), f.OldName, err)
			}
		}
		var out bytes.Buffer
		if err := gitdiff.Apply(&out, bytes.NewReader(base), f); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("%w: %s does not apply to the reference solution (refresh it): %v", ErrBadPatch, w.ID(), err)
		}
		// Mirror the repository path, so that a compiler message about the patched file names it.
		rel, err := filepath.Rel(l.course.Root, target)
		if err != nil {
			cleanup()
			return "", nil, fmt.Errorf("write overlay: %w", err)
		}
		patched := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(patched), 0o755); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("write overlay: %w", err)
		}
		if err := os.WriteFile(patched, out.Bytes(), 0o644); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("write overlay: %w", err)
		}
		replace[target] = patched
	}
	path, err = writeOverlay(tmp, replace)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

// patchTarget maps one file of a patch to the absolute chapters/ path it changes, and refuses what a wrong
// solution must never touch: tests (they exist once and are the spec), other chapters, renames.
func (l *Lab) patchTarget(ch *course.Chapter, w WrongSolution, f *gitdiff.File) (string, error) {
	name := f.NewName
	if f.IsDelete {
		name = f.OldName
	}
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s %s", ErrBadPatch, w.ID(), name, why) }
	if f.IsRename || f.IsCopy || f.IsBinary {
		return "", bad("is renamed, copied or binary; a wrong solution edits text files in place")
	}
	if strings.HasSuffix(name, "_test.go") {
		return "", bad("is a test; a wrong solution never changes the tests")
	}
	for _, prefix := range []string{"solutions/" + ch.Dir + "/", "chapters/" + ch.Dir + "/"} {
		if rel, ok := strings.CutPrefix(name, prefix); ok && rel != "" && !strings.Contains("/"+rel+"/", "/../") {
			return filepath.Join(l.course.ChaptersDir(), ch.Dir, filepath.FromSlash(rel)), nil
		}
	}
	return "", bad(fmt.Sprintf("is outside chapter %s (want solutions/%s/... or chapters/%s/...)", ch.ID, ch.Dir, ch.Dir))
}
