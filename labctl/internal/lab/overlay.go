package lab

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// SolutionFiles maps each file of the chapters' solutions to the chapters/ file it replaces or adds,
// both absolute. Solutions never hold tests, so _test.go files are left out (verify reports them).
func (l *Lab) SolutionFiles(chapters []*course.Chapter) (map[string]string, error) {
	out := map[string]string{}
	for _, ch := range chapters {
		src := filepath.Join(l.course.SolutionsDir(), ch.Dir)
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasSuffix(path, "_test.go") || !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(src, path)
			if err != nil {
				return err
			}
			out[filepath.Join(l.course.ChaptersDir(), ch.Dir, rel)] = path
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("read solutions of chapter %s: %w", ch.ID, err)
		}
	}
	return out, nil
}

// SolutionOverlay writes a `go test -overlay` file that puts the chapters' solutions in place of the
// learner's files, without touching them. The caller runs cleanup when the check is over.
func (l *Lab) SolutionOverlay(chapters []*course.Chapter) (path string, cleanup func(), err error) {
	files, err := l.SolutionFiles(chapters)
	if err != nil {
		return "", nil, err
	}
	tmp, err := os.MkdirTemp("", "labctl-overlay-*")
	if err != nil {
		return "", nil, fmt.Errorf("write overlay: %w", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	if path, err = writeOverlay(tmp, files); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

// writeOverlay writes the overlay JSON for replace (target -> replacement, "" deletes) into dir.
func writeOverlay(dir string, replace map[string]string) (string, error) {
	data, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return "", fmt.Errorf("encode overlay: %w", err)
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("write overlay: %w", err)
	}
	return path, nil
}
