package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The poller is driven scan by scan: no timing, no events.
func TestPollerScan(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "pkg")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(sub, "a.go"), filepath.Join(sub, "b.go")
	write(t, a, "package pkg // 1")
	p := newPoller([]string{root})

	steps := []struct {
		name   string
		change func(t *testing.T)
		want   []string
	}{
		{"nothing changed", func(t *testing.T) {}, nil},
		{"a write", func(t *testing.T) { write(t, a, "package pkg // second") }, []string{a}},
		{"a create", func(t *testing.T) { write(t, b, "package pkg") }, []string{b}},
		{"a delete", func(t *testing.T) {
			if err := os.Remove(b); err != nil {
				t.Fatal(err)
			}
		}, []string{b}},
		{"a rename", func(t *testing.T) {
			if err := os.Rename(a, b); err != nil {
				t.Fatal(err)
			}
		}, []string{a, b}},
		{"a file in a new directory", func(t *testing.T) {
			nd := filepath.Join(root, "newdir")
			if err := os.Mkdir(nd, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(nd, "c.go"), "package newdir")
		}, []string{filepath.Join(root, "newdir", "c.go")}},
		{"a hidden directory is ignored", func(t *testing.T) {
			if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(root, ".git", "index"), "x")
		}, nil},
		{"same size and same mtime, new content", func(t *testing.T) {
			// A file system with coarse timestamps: the rewrite keeps size and mtime, only the content differs.
			st, err := os.Stat(b)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := os.ReadFile(b)
			write(t, b, string(slices.Repeat([]byte("x"), len(old))))
			if err := os.Chtimes(b, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, []string{b}},
	}
	for _, s := range steps {
		s.change(t)
		got := p.scan()
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Errorf("after %s: scan() = %v, want %v", s.name, got, s.want)
		}
	}
}

// A file that has not changed for a while is never read, only stat'ed: the cost stays bounded.
func TestPollerHashesOnlyRecentFiles(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(root, "old.go")
	write(t, f, "package old")
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(f, past, past); err != nil {
		t.Fatal(err)
	}
	p := newPoller([]string{root})
	if st := p.last[f]; st.hashed {
		t.Errorf("snapshot hashed %s, modified an hour ago; want stat only", f)
	}
}

func startPolling(t *testing.T, root string, opts Options) *Session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if opts.Debounce == 0 {
		opts.Debounce = testDebounce
	}
	s, err := Start(ctx, []string{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStartPollFlag(t *testing.T) {
	root := t.TempDir()
	probed := false
	s := startPolling(t, root, Options{Poll: true, Interval: 20 * time.Millisecond,
		Probe: func(context.Context, string) string { probed = true; return "" }})
	if !s.Polling || s.Why != "--poll" {
		t.Errorf("Start(Poll: true) = Polling %v, Why %q; want polling because of --poll", s.Polling, s.Why)
	}
	if probed {
		t.Error("Start(Poll: true) ran the probe; the flag alone decides")
	}
	f := filepath.Join(root, "a.go")
	write(t, f, "package a")
	if got := next(t, s.Changes); !slices.Equal(got, []string{f}) {
		t.Errorf("polling batch = %v, want [%s]", got, f)
	}
}

func TestStartChoosesByProbe(t *testing.T) {
	tests := []struct {
		name        string
		probe       string
		wantPolling bool
	}{
		{"events arrive", "", false},
		{"no events", "no file event within 2s", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			var probedDir string
			s := startPolling(t, root, Options{Interval: 20 * time.Millisecond,
				Probe: func(_ context.Context, dir string) string { probedDir = dir; return tt.probe }})
			if probedDir != root {
				t.Errorf("probe ran on %q, want %q", probedDir, root)
			}
			if s.Polling != tt.wantPolling || s.Why != tt.probe {
				t.Errorf("Start with probe %q = Polling %v, Why %q; want %v, %q", tt.probe, s.Polling, s.Why, tt.wantPolling, tt.probe)
			}
			f := filepath.Join(root, "a.go")
			write(t, f, "package a")
			if got := next(t, s.Changes); !slices.Equal(got, []string{f}) {
				t.Errorf("batch = %v, want [%s]", got, f)
			}
		})
	}
}

// On a local disk the default probe sees its own event, and leaves no file behind.
func TestDefaultProbeLocal(t *testing.T) {
	root := t.TempDir()
	if why := DefaultProbe(context.Background(), root); why != "" {
		t.Errorf("DefaultProbe(%s) = %q, want \"\" (events arrive on a local disk)", root, why)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("the probe left %v in the watched directory", entries)
	}
}
