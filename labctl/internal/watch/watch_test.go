package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const testDebounce = 50 * time.Millisecond

func next(t *testing.T, ch <-chan []string) []string {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
		return nil
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "pkg")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Watch(ctx, []string{root}, testDebounce)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("writes in a burst make one batch", func(t *testing.T) {
		for i := range 5 {
			write(t, filepath.Join(sub, "a.go"), "package pkg // "+string(rune('a'+i)))
		}
		if got, want := next(t, ch), []string{filepath.Join(sub, "a.go")}; !slices.Equal(got, want) {
			t.Errorf("batch = %v, want %v", got, want)
		}
	})
	t.Run("a new directory is watched", func(t *testing.T) {
		nd := filepath.Join(root, "newdir")
		if err := os.Mkdir(nd, 0o755); err != nil {
			t.Fatal(err)
		}
		next(t, ch) // the directory itself
		write(t, filepath.Join(nd, "b.go"), "package newdir")
		if got := next(t, ch); !slices.Contains(got, filepath.Join(nd, "b.go")) {
			t.Errorf("batch = %v, want it to hold newdir/b.go", got)
		}
	})
	t.Run("rename on save", func(t *testing.T) {
		tmp := filepath.Join(sub, ".a.go.swp")
		write(t, tmp, "package pkg // saved")
		if err := os.Rename(tmp, filepath.Join(sub, "a.go")); err != nil {
			t.Fatal(err)
		}
		if got, want := next(t, ch), []string{filepath.Join(sub, "a.go")}; !slices.Equal(got, want) {
			t.Errorf("batch = %v, want %v", got, want)
		}
		write(t, filepath.Join(sub, "a.go"), "package pkg // saved again")
		if got, want := next(t, ch), []string{filepath.Join(sub, "a.go")}; !slices.Equal(got, want) {
			t.Errorf("after rename, batch = %v, want %v", got, want)
		}
	})

	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("channel still open after cancel")
		}
	case <-time.After(2 * time.Second):
		t.Error("channel not closed within 2s of cancel")
	}
}
