package lab

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/watch"
)

// Watch watches the chapter's directory tree and sends one value per burst of saves (debounced
// ~300ms): a path that changed, the first Go file of the burst when there is one. The channel closes
// when ctx ends.
func (l *Lab) Watch(ctx context.Context, chapterID string) (<-chan string, error) {
	ch, err := l.course.ResolveChapter(chapterID)
	if err != nil {
		return nil, err
	}
	batches, err := watch.Watch(ctx, []string{filepath.Join(l.course.ChaptersDir(), ch.Dir)}, watch.DefaultDebounce)
	if err != nil {
		return nil, err
	}
	out := make(chan string)
	go func() {
		defer close(out)
		for b := range batches {
			select {
			case out <- pick(b):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func pick(batch []string) string {
	for _, p := range batch {
		if strings.HasSuffix(p, ".go") {
			return p
		}
	}
	return batch[0]
}
