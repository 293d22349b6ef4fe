package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/progress"
)

// Change says what Reset or ApplySolution did.
type Change struct {
	BackupDir string   // where the learner's previous files are, relative to the root; "" if nothing was overwritten
	Written   []string // files written, relative to the root
}

// write puts new contents (absolute path -> content) in place, first copying every existing file that
// would change to a new .labctl/backups/<timestamp>-<n>/, under its path relative to the root.
// A file it cannot read is left alone: what could not be backed up is not overwritten.
func (l *Lab) write(files map[string][]byte) (*Change, error) {
	ch := &Change{}
	backup := "" // created for the first file that needs it
	for _, path := range slices.Sorted(maps.Keys(files)) {
		rel, err := filepath.Rel(l.Root(), path)
		if err != nil {
			return ch, err
		}
		old, err := os.ReadFile(path)
		switch {
		case err == nil && bytes.Equal(old, files[path]):
			continue
		case err == nil:
			if backup == "" {
				if backup, err = l.newBackupDir(); err != nil {
					return ch, err
				}
				ch.BackupDir, _ = filepath.Rel(l.Root(), backup)
			}
			if err := writeFile(filepath.Join(backup, rel), old); err != nil {
				return ch, fmt.Errorf("back up %s: %w", rel, err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return ch, fmt.Errorf("back up %s: %w", rel, err)
		}
		if err := writeFile(path, files[path]); err != nil {
			return ch, fmt.Errorf("write %s: %w", rel, err)
		}
		ch.Written = append(ch.Written, filepath.ToSlash(rel))
	}
	return ch, nil
}

// newBackupDir creates a backup directory of its own: two changes in the same millisecond must not
// share one, or the second backup of a file would overwrite the first.
func (l *Lab) newBackupDir() (string, error) {
	state := filepath.Join(l.Root(), progress.Dir)
	if err := progress.EnsureDir(state); err != nil {
		return "", err
	}
	base := filepath.Join(state, "backups")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", base, err)
	}
	dir, err := os.MkdirTemp(base, time.Now().Format("20060102-150405.000")+"-*")
	if err != nil {
		return "", fmt.Errorf("create a backup directory: %w", err)
	}
	return dir, nil
}

// writeFile replaces path atomically, creating its directory.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return progress.WriteFileAtomic(path, data, 0o644)
}

// forgetStatuses drops the cached status of every exercise in a chapter the change wrote to: the code
// it was checked against is gone (and a package's tests may import any other package of its chapter),
// so a reset exercise must not still show as passed. Revealed hints stay.
func (l *Lab) forgetStatuses(ch *Change) {
	if ch == nil || len(ch.Written) == 0 {
		return
	}
	for _, c := range l.course.Chapters {
		prefix := "chapters/" + c.Dir + "/"
		if !slices.ContainsFunc(ch.Written, func(w string) bool { return strings.HasPrefix(w, prefix) }) {
			continue
		}
		for _, ex := range c.Exercises {
			l.progress.Update(ex.ID, func(e *progress.Entry) { e.Status, e.CheckedAt = "", time.Time{} })
		}
	}
	_ = l.progress.Save() // a cache that failed to save is re-derived by the next check
}
