// Package watch reports file changes under directory trees, debounced into batches.
//
// It listens to file-system events (inotify, FSEvents, ReadDirectoryChangesW) where they arrive, and
// polls where they do not: network file systems, WSL's mounted Windows drives (9p) and some container
// bind mounts, where an editor on the other side of the mount writes without any event reaching us.
package watch

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce groups the writes of one save (editors often write, rename and chmod) into one batch.
const DefaultDebounce = 300 * time.Millisecond

// DefaultInterval is how often the poller looks at the files when events do not arrive: a save is
// noticed within about a second, and a chapter's few hundred files cost a few hundred stats per second.
const DefaultInterval = time.Second

// ProbeTimeout bounds the wait for the probe's own event. Events arrive within milliseconds where
// they work; a false "no events" only costs polling, never a missed save.
const ProbeTimeout = 2 * time.Second

// Options say how to watch. The zero value chooses events or polling automatically.
type Options struct {
	Debounce time.Duration // 0: DefaultDebounce
	Poll     bool          // poll even where events would arrive
	Interval time.Duration // the polling period; 0: DefaultInterval
	// Probe reports whether file events arrive for changes under dir ("" when they do, else why not).
	// nil: DefaultProbe. It is consulted only when Poll is false.
	Probe func(ctx context.Context, dir string) (why string)
}

// Session is a running watch.
type Session struct {
	// Changes receives the sorted, de-duplicated paths that changed once no change has arrived for the
	// debounce period. It closes when the context ends.
	Changes <-chan []string
	// Polling says the session polls; Why says why (the flag, the file system, the probe), for the learner.
	Polling bool
	Why     string
}

// Watch watches dirs with file events only. It is Start without the polling fallback.
func Watch(ctx context.Context, dirs []string, debounce time.Duration) (<-chan []string, error) {
	raw, err := watchEvents(ctx, dirs)
	if err != nil {
		return nil, err
	}
	out := make(chan []string)
	go debounceLoop(ctx, raw, debounce, out)
	return out, nil
}

// Start watches dirs and every directory below them, including ones created later. It polls when
// opts.Poll is set, when a directory is on a file system known not to deliver events, when the probe
// sees no event, or when the event watcher cannot start (e.g. the inotify limits are reached).
// Hidden directories and editor temporary files are ignored.
func Start(ctx context.Context, dirs []string, opts Options) (*Session, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	why := ""
	if opts.Poll {
		why = "--poll"
	} else {
		probe := opts.Probe
		if probe == nil {
			probe = DefaultProbe
		}
		for _, d := range dirs {
			if why = probe(ctx, d); why != "" {
				break
			}
		}
	}
	var raw <-chan string
	if why == "" {
		var err error
		if raw, err = watchEvents(ctx, dirs); err != nil {
			why = err.Error() // no events to be had: polling still notices saves
		}
	}
	if why != "" {
		raw = watchPoll(ctx, dirs, opts.Interval)
	}
	out := make(chan []string)
	go debounceLoop(ctx, raw, opts.Debounce, out)
	return &Session{Changes: out, Polling: why != "", Why: why}, nil
}

// DefaultProbe says why events would not arrive for dir: its file system is a network or
// virtual-machine share (Linux), or a file created in dir raised no event within ProbeTimeout.
// It returns "" when events arrive.
func DefaultProbe(ctx context.Context, dir string) string {
	if fsName := remoteFS(dir); fsName != "" {
		return fmt.Sprintf("%s is on %s", dir, fsName)
	}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	if !eventArrives(ctx, dir) {
		return fmt.Sprintf("no file event from %s within %s", dir, ProbeTimeout)
	}
	return ""
}

// eventArrives writes a hidden temporary file in dir and waits for its event until ctx ends.
// When dir cannot be written, it answers true: the learner cannot save there either.
func eventArrives(ctx context.Context, dir string) bool {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return false
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return false
	}
	f, err := os.CreateTemp(dir, ".labctl-watch-probe-*")
	if err != nil {
		return true
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	for {
		select {
		case ev := <-w.Events:
			if filepath.Clean(ev.Name) == filepath.Clean(name) {
				return true
			}
		case <-w.Errors:
		case <-ctx.Done():
			return false
		}
	}
}

// watchEvents sends the paths of file events under dirs until ctx ends.
func watchEvents(ctx context.Context, dirs []string) (<-chan string, error) {
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
	raw := make(chan string)
	go func() {
		defer close(raw)
		defer w.Close()
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
				select {
				case raw <- ev.Name:
				case <-ctx.Done():
					return
				}
			case <-w.Errors:
				// An overflow or a vanished directory: the next event still triggers a check.
			}
		}
	}()
	return raw, nil
}

// debounceLoop batches the paths from raw; it closes out when ctx ends or raw closes.
func debounceLoop(ctx context.Context, raw <-chan string, debounce time.Duration, out chan<- []string) {
	defer close(out)
	pending := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-raw:
			if !ok {
				return
			}
			if ignored(p) {
				continue
			}
			pending[p] = true
			timer.Reset(debounce)
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
			return nil // gone already (a temporary file), nothing to watch
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
