package lab

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/progress"
)

// Change says what Reset or ApplySolution did.
type Change struct {
	BackupDir string   // where the learner's previous files are, relative to the root; "" if nothing was overwritten
	Written   []string // files written, relative to the root
}

// write puts new contents (absolute path -> content) in place, first copying every existing file that
// would change to .labctl/backups/<timestamp>/, under its path relative to the root.
func (l *Lab) write(files map[string][]byte) (*Change, error) {
	ch := &Change{}
	stamp := time.Now().Format("20060102-150405.000")
	backup := filepath.Join(l.Root(), progress.Dir, "backups", stamp)
	for _, path := range sortedKeys(files) {
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, files[path]) {
			continue
		}
		rel, err2 := filepath.Rel(l.Root(), path)
		if err2 != nil {
			return ch, err2
		}
		if err == nil {
			if err := progress.EnsureDir(filepath.Join(l.Root(), progress.Dir)); err != nil {
				return ch, err
			}
			dst := filepath.Join(backup, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return ch, fmt.Errorf("back up %s: %w", rel, err)
			}
			if err := os.WriteFile(dst, old, 0o644); err != nil {
				return ch, fmt.Errorf("back up %s: %w", rel, err)
			}
			ch.BackupDir, _ = filepath.Rel(l.Root(), backup)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return ch, fmt.Errorf("write %s: %w", rel, err)
		}
		if err := progress.WriteFileAtomic(path, files[path], 0o644); err != nil {
			return ch, err
		}
		ch.Written = append(ch.Written, filepath.ToSlash(rel))
	}
	return ch, nil
}
