// Package watch reports file changes under directory trees, debounced into batches.
package watch

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce groups the writes of one save (editors often write, rename and chmod) into one batch.
const DefaultDebounce = 300 * time.Millisecond

// Watch watches dirs and every directory below them, including ones created later, and sends the
// sorted, de-duplicated paths that changed once no change has arrived for debounce.
// The channel closes when ctx ends. Hidden directories and editor temporary files are ignored.
func Watch(ctx context.Context, dirs []string, debounce time.Duration) (<-chan []string, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	for _, d := range dirs {
		if err := addTree(w, d); err != nil {
			w.Close()
			return nil, err
		}
	}
	out := make(chan []string)
	go loop(ctx, w, debounce, out)
	return out, nil
}

// loop owns the watcher and the channel; it ends with ctx.
func loop(ctx context.Context, w *fsnotify.Watcher, debounce time.Duration, out chan<- []string) {
	defer close(out)
	defer w.Close()
	pending := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) {
				_ = addTree(w, ev.Name) // a new directory, or a file renamed over an old one
			}
			if ignored(ev.Name) {
				continue
			}
			pending[ev.Name] = true
			timer.Reset(debounce)
		case <-w.Errors:
			// An overflow or a vanished directory: the next event still triggers a check.
		case <-timer.C:
			batch := make([]string, 0, len(pending))
			for p := range pending {
				batch = append(batch, p)
			}
			slices.Sort(batch)
			clear(pending)
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
		}
	}
}

// addTree watches root and its subdirectories; a root that is a file is ignored.
func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return nil // gone already (a temporary file), nothing to watch
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if err := w.Add(path); err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		return nil
	})
}

// ignored says whether a path is noise: hidden files and editors' swap and backup files.
func ignored(path string) bool {
	base := filepath.Base(path)
	switch {
	case strings.HasPrefix(base, "."), strings.HasPrefix(base, "#"),
		strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"),
		strings.HasSuffix(base, ".tmp"), base == "4913":
		return true
	}
	return false
}
