package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
)

func TestRunOnFixture(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, root string)
		want    string // a substring of one problem; "" means no problem at all
	}{
		{"clean course", func(*testing.T, string) {}, ""},
		{"starter already solved", func(t *testing.T, root string) {
			labtest.Write(t, root, "chapters/00-demo/greet/greet.go", labtest.Read(t, root, "solutions/00-demo/greet/greet.go"))
		}, "exercise 00-greet: the starter passes its tests"},
		{"starter does not compile", func(t *testing.T, root string) {
			labtest.Write(t, root, "chapters/00-demo/greet/greet.go", "package greet\n\nfunc Greet(name string) string { return nope }\n")
		}, "the starter of ./00-demo/greet does not compile: chapters/00-demo/greet/greet.go:3:"},
		{"solution does not pass", func(t *testing.T, root string) {
			labtest.Write(t, root, "solutions/00-demo/greet/greet.go", "package greet\n\nfunc Greet(name string) string { return name }\n")
		}, "with the solution, TestGreet in ./00-demo/greet is fail"},
		{"test owned by no exercise", func(t *testing.T, root string) {
			labtest.Write(t, root, "chapters/00-demo/greet/extra_test.go", "package greet\n\nimport \"testing\"\n\nfunc TestOrphan(t *testing.T) {}\n")
		}, "test TestOrphan in ./00-demo/greet belongs to no exercise"},
		{"test file edited", func(t *testing.T, root string) {
			p := "chapters/00-demo/calc/calc_test.go"
			labtest.Write(t, root, p, labtest.Read(t, root, p)+"\n// edited\n")
		}, "test file 00-demo/calc/calc_test.go was edited"},
		{"no tests.sum", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, lab.SumsFile)); err != nil {
				t.Fatal(err)
			}
		}, "tests.sum does not exist"},
		{"TODO names no exercise", func(t *testing.T, root string) {
			labtest.Write(t, root, "chapters/00-demo/calc/mul.go", "package calc\n\n// TODO(00-mul): multiply.\nfunc Mul(a, b int) int { return 0 }\n")
		}, "chapters/00-demo/calc/mul.go:3: TODO(00-mul) names no exercise"},
		{"solution holds a test", func(t *testing.T, root string) {
			labtest.Write(t, root, "solutions/00-demo/calc/calc_test.go", "package calc\n")
		}, "solutions/00-demo/calc/calc_test.go: solutions never contain tests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := labtest.Course(t)
			tt.breakIt(t, root)
			l, err := lab.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), l, Options{})
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			var got []string
			for _, p := range rep.Problems() {
				got = append(got, p.String())
			}
			if tt.want == "" {
				if len(got) > 0 {
					t.Errorf("problems = %q, want none", got)
				}
				return
			}
			found := false
			for _, g := range got {
				found = found || strings.Contains(g, tt.want)
			}
			if !found {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}
