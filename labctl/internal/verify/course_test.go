package verify

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// TestCourse verifies the real course in chapters/ and solutions/: `go test ./...` at the repository
// root runs it, so every change proves that each starter fails and each solution passes.
func TestCourse(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Open(root)
	if err != nil {
		t.Fatalf("lab.Open(%s) = %v", root, err)
	}
	rep, err := Run(context.Background(), l, Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("verify.Run() = %v", err)
	}
	for _, c := range rep.Chapters {
		for _, p := range c.Problems {
			t.Errorf("%s", p)
		}
	}
}
