package mutate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEquivalentsFileNamesRealLines keeps the committed explanations honest: each names a line that the
// reference solution has, with reasons in both languages.
func TestEquivalentsFileNamesRealLines(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	eqs, err := LoadEquivalents(root)
	if err != nil {
		t.Fatalf("LoadEquivalents: %v", err)
	}
	for _, e := range eqs {
		src, err := os.ReadFile(filepath.Join(root, "solutions", filepath.FromSlash(e.File)))
		if err != nil {
			t.Errorf("%s names %s, which is not a solution file: %v", EquivalentsFile, e.File, err)
			continue
		}
		found := false
		for _, line := range strings.Split(string(src), "\n") {
			if strings.TrimSpace(line) == e.Code {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: solutions/%s has no line %q: the entry is stale after an edit of the solution", EquivalentsFile, e.File, e.Code)
		}
	}
}

func TestLoadEquivalentsRejectsIncompleteEntries(t *testing.T) {
	tests := []struct{ name, body string }{
		{"no reason in Chinese", "[[equivalent]]\nfile = \"a.go\"\noperator = \"X\"\ncode = \"i++\"\nwhy.en = \"because\"\n"},
		{"no code", "[[equivalent]]\nfile = \"a.go\"\noperator = \"X\"\nwhy.en = \"because\"\nwhy.zh = \"因为\"\n"},
		{"unknown field", "[[equivalent]]\nfile = \"a.go\"\noperator = \"X\"\ncode = \"i++\"\nline = 3\nwhy.en = \"because\"\nwhy.zh = \"因为\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, filepath.FromSlash(EquivalentsFile))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if eqs, err := LoadEquivalents(root); err == nil {
				t.Errorf("LoadEquivalents(%s) = %v, nil; want an error: an entry without file, operator, code and both reasons explains nothing", tt.name, eqs)
			}
		})
	}
	if eqs, err := LoadEquivalents(t.TempDir()); err != nil || eqs != nil {
		t.Errorf("LoadEquivalents(no file) = %v, %v; want nil, nil", eqs, err)
	}
}
