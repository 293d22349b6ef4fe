package watch

import (
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Polling compares what a stat gives (modification time, size, mode) between two scans. A file
// rewritten within the file system's timestamp granularity with the same size would look unchanged
// (FAT and some network file systems keep 1–2 s timestamps), so a file modified recently also keeps
// a hash of its content, compared when the stat is equal: the cost is a read of the few files just
// saved, never of the whole tree.

const (
	// racyWindow: a file modified less than this before a scan has its content hashed.
	racyWindow = 3 * time.Second
	// maxHashSize: larger files are compared by stat only (a lesson's sources are a few kB).
	maxHashSize = 1 << 20
	// maxFiles bounds one scan; a chapter holds a few hundred files, so a tree this big is not one.
	maxFiles = 20000
)

type fileState struct {
	mod    time.Time
	size   int64
	mode   fs.FileMode
	sum    [sha256.Size]byte
	hashed bool
}

// poller remembers the files under dirs as of its last scan.
type poller struct {
	dirs []string
	last map[string]fileState
}

func newPoller(dirs []string) *poller {
	p := &poller{dirs: dirs}
	p.last = p.snapshot()
	return p
}

// scan returns the paths created, deleted or changed since the previous scan.
func (p *poller) scan() []string {
	now := p.snapshot()
	var changed []string
	for path, st := range now {
		old, ok := p.last[path]
		if !ok || !sameFile(old, st) {
			changed = append(changed, path)
		}
	}
	for path := range p.last {
		if _, ok := now[path]; !ok {
			changed = append(changed, path)
		}
	}
	p.last = now
	return changed
}

func sameFile(a, b fileState) bool {
	if !a.mod.Equal(b.mod) || a.size != b.size || a.mode != b.mode {
		return false
	}
	return !a.hashed || !b.hashed || a.sum == b.sum
}

// snapshot stats every file under the dirs, skipping hidden directories like the event watcher.
// Files modified within racyWindow are hashed.
func (p *poller) snapshot() map[string]fileState {
	now := time.Now()
	files := map[string]fileState{}
	for _, root := range p.dirs {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // vanished mid-walk: the next scan sees it gone
			}
			if d.IsDir() {
				if path != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if len(files) >= maxFiles {
				return filepath.SkipAll
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st := fileState{mod: info.ModTime(), size: info.Size(), mode: info.Mode()}
			if info.Mode().IsRegular() && info.Size() <= maxHashSize && now.Sub(st.mod) < racyWindow {
				st.sum, st.hashed = hashFile(path)
			}
			files[path] = st
			return nil
		})
	}
	return files
}

func hashFile(path string) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxHashSize+1)); err != nil {
		return sum, false
	}
	copy(sum[:], h.Sum(nil))
	return sum, true
}

// watchPoll scans dirs every interval and sends the paths that changed, until ctx ends.
// The first snapshot is taken before it returns, so a save right after the start is noticed.
func watchPoll(ctx context.Context, dirs []string, interval time.Duration) <-chan string {
	p := newPoller(dirs)
	raw := make(chan string)
	go func() {
		defer close(raw)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, path := range p.scan() {
				select {
				case raw <- path:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return raw
}
