package lab

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/watch"
)

// Watch watches the chapter's directory tree and sends one value per burst of saves (debounced
// ~300ms): a path that changed, the first Go file of the burst when there is one. The channel closes
// when ctx ends. It polls where file events do not arrive (see watch.Start).
func (l *Lab) Watch(ctx context.Context, chapterID string) (<-chan string, error) {
	changes, _, err := l.WatchWith(ctx, chapterID, watch.Options{})
	return changes, err
}

// WatchMode says how a watch notices saves: Polling, and why (empty when file events arrive).
type WatchMode struct {
	Polling bool
	Why     string
}

// WatchWith is Watch with the watch's options (--poll, --poll-interval), and says how it watches.
func (l *Lab) WatchWith(ctx context.Context, chapterID string, opts watch.Options) (<-chan string, WatchMode, error) {
	ch, err := l.course.ResolveChapter(chapterID)
	if err != nil {
		return nil, WatchMode{}, err
	}
	s, err := watch.Start(ctx, []string{filepath.Join(l.course.ChaptersDir(), ch.Dir)}, opts)
	if err != nil {
		return nil, WatchMode{}, err
	}
	out := make(chan string)
	go func() {
		defer close(out)
		for b := range s.Changes {
			select {
			case out <- pick(b):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, WatchMode{Polling: s.Polling, Why: s.Why}, nil
}

func pick(batch []string) string {
	for _, p := range batch {
		if strings.HasSuffix(p, ".go") {
			return p
		}
	}
	return batch[0]
}
