package progress

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveAndReopen(t *testing.T) {
	root := t.TempDir()
	s := Open(root)
	s.Update("00-cancel", func(e *Entry) { e.Status = "fail"; e.HintsRevealed = 2 })
	if err := s.Save(); err != nil {
		t.Fatalf("Save() = %v", err)
	}
	got := Open(root).Get("00-cancel")
	if got.Status != "fail" || got.HintsRevealed != 2 {
		t.Errorf("reopened entry = %+v, want status fail and 2 hints", got)
	}
	data, err := os.ReadFile(filepath.Join(root, Dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil || st.Header != Header {
		t.Errorf("state file header = %q (%v), want %q", st.Header, err, Header)
	}
	if _, err := os.Stat(filepath.Join(root, Dir, ".gitignore")); err != nil {
		t.Errorf("no .gitignore in %s: %v", Dir, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, Dir, ".*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestTwoProcessesKeepEachOthersChanges: the UI and a CLI command each hold a Store on the same file.
func TestTwoProcessesKeepEachOthersChanges(t *testing.T) {
	root := t.TempDir()
	ui, cli := Open(root), Open(root)
	cli.Update("00-pool", func(e *Entry) { e.HintsRevealed = 1 })
	if err := cli.Save(); err != nil {
		t.Fatalf("Save() = %v", err)
	}
	ui.Update("00-cancel", func(e *Entry) { e.Status = "pass" })
	if err := ui.Save(); err != nil {
		t.Fatalf("Save() = %v", err)
	}
	reopened := Open(root)
	if got := reopened.Get("00-pool").HintsRevealed; got != 1 {
		t.Errorf("Get(00-pool).HintsRevealed = %d, want 1 (the other process's hint)", got)
	}
	if got := reopened.Get("00-cancel").Status; got != "pass" {
		t.Errorf("Get(00-cancel).Status = %q, want pass", got)
	}
}

func TestOpenIgnoresBrokenFile(t *testing.T) {
	tests := map[string]string{
		"not json":      "{",
		"other version": `{"version": 99, "exercises": {"x": {"status": "pass"}}}`,
	}
	for name, content := range tests {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, Dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, Dir, FileName), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := Open(root).Get("x"); got.Status != "" {
			t.Errorf("%s: Get(x) = %+v, want an empty entry", name, got)
		}
	}
}
