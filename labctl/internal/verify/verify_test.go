package verify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/course"
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
		{"wrong solution not rejected", func(t *testing.T, root string) {
			p := "solutions/wrong/00-greet/no-comma.patch"
			labtest.Write(t, root, p, strings.ReplaceAll(labtest.Read(t, root, p), `"hello "`, `"hello, "`))
		}, "wrong solution 00-greet/no-comma: passes every test of the exercise"},
		{"two hints", func(t *testing.T, root string) {
			p := "chapters/course.toml"
			s := strings.Replace(labtest.Read(t, root, p), `, "Replace the return 0."]`, `]`, 1)
			labtest.Write(t, root, p, strings.Replace(s, `, "替换掉 return 0。"]`, `]`, 1))
		}, "exercise 00-add: 2 hints per language, want at least 3"},
		{"passing demo owned by no exercise", withDemo("func TestDemo(t *testing.T) {}\n"), ""},
		{"failing demo", withDemo("func TestDemo(t *testing.T) { t.Error(\"the demonstration no longer shows it\") }\n"),
			"with the solution, TestDemo in ./00-demo/runtime is fail"},
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
			rep, err := Run(context.Background(), l, Options{MinWrong: 1})
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

func TestWrongSolutions(t *testing.T) {
	const add = "solutions/wrong/00-add/multiplies.patch"
	tests := []struct {
		name    string
		breakIt func(t *testing.T, root string)
		want    string // a substring of one problem; "" means none
	}{
		{"rejected", func(*testing.T, string) {}, ""},
		{"too few", func(*testing.T, string) {}, "1 wrong solution(s) under solutions/wrong/00-add, want at least 2"},
		{"does not compile", func(t *testing.T, root string) {
			labtest.Write(t, root, add, strings.Replace(labtest.Read(t, root, add), "a * b", "a * nope", 1))
		}, "wrong solution 00-add/multiplies: does not compile, so it proves nothing: chapters/00-demo/calc/add.go:6: undefined: nope"},
		{"no longer applies", func(t *testing.T, root string) {
			labtest.Write(t, root, "solutions/00-demo/calc/add.go", "package calc\n\n// Add adds.\nfunc Add(a, b int) int { return b + a }\n")
		}, "00-add/multiplies does not apply to the reference solution"},
		{"changes a test", func(t *testing.T, root string) {
			labtest.Write(t, root, add, strings.ReplaceAll(labtest.Read(t, root, add), "solutions/00-demo/calc/add.go", "chapters/00-demo/calc/calc_test.go"))
		}, "chapters/00-demo/calc/calc_test.go is a test; a wrong solution never changes the tests"},
		{"other chapter", func(t *testing.T, root string) {
			labtest.Write(t, root, add, strings.ReplaceAll(labtest.Read(t, root, add), "solutions/00-demo/", "solutions/01-other/"))
		}, "is outside chapter 00"},
		{"no mistake line", func(t *testing.T, root string) {
			_, diff, _ := strings.Cut(labtest.Read(t, root, add), "\n\n")
			labtest.Write(t, root, add, diff)
		}, "the first line must say what the mistake is"},
		{"a starter file", func(t *testing.T, root string) {
			labtest.Write(t, root, add, strings.ReplaceAll(labtest.Read(t, root, add), "solutions/00-demo/calc/add.go", "chapters/00-demo/calc/add.go"))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := labtest.Course(t)
			tt.breakIt(t, root)
			l, err := lab.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			min := 1
			if tt.name == "too few" {
				min = 2
			}
			ex := l.Course().Exercise("00-add")
			rep, err := Run(context.Background(), l, Options{Exercises: []*course.Exercise{ex}, WrongOnly: true, MinWrong: min})
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			var got []string
			for _, p := range rep.Problems() {
				got = append(got, p.String())
			}
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("problems = %q, want none", got)
				}
				w := rep.Chapters[0].Wrong
				if len(w) != 1 || !w[0].Rejected || !slices.Equal(w[0].CaughtBy, []string{"TestAdd"}) || w[0].Mistake != "Multiplies instead of adding." {
					t.Fatalf("wrong results = %+v, want 00-add/multiplies rejected by TestAdd with its mistake line", w)
				}
				if md, row := WrongReport(rep), "| `00-add/multiplies` | Multiplies instead of adding. | `TestAdd` |"; !strings.Contains(md, row) {
					t.Errorf("WrongReport() = %q, want the row %q", md, row)
				}
				return
			}
			if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, tt.want) }) {
				t.Errorf("problems = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

func TestStrayWrongDirectory(t *testing.T) {
	root := labtest.Course(t)
	if err := os.MkdirAll(filepath.Join(root, "solutions/wrong/00-mul"), 0o755); err != nil {
		t.Fatal(err)
	}
	labtest.Write(t, root, "solutions/wrong/00-mul/x.patch", "x\n")
	l, err := lab.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := strayWrong(l)
	if err != nil || len(ps) != 1 || !strings.Contains(ps[0].String(), "solutions/wrong/00-mul names no exercise") {
		t.Fatalf("strayWrong() = %v, %v; want one problem naming solutions/wrong/00-mul", ps, err)
	}
}

// withDemo adds a demos package (tests the lesson points at, owned by no exercise) to the fixture chapter,
// with its test file listed in tests.sum: it must pass with the solution, and no exercise has to own it.
func withDemo(body string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		if err := os.MkdirAll(filepath.Join(root, "chapters", "00-demo", "runtime"), 0o755); err != nil {
			t.Fatal(err)
		}
		labtest.Write(t, root, "chapters/00-demo/runtime/demo_test.go", "package runtime\n\nimport \"testing\"\n\n"+body)
		p := "chapters/course.toml"
		labtest.Write(t, root, p, strings.Replace(labtest.Read(t, root, p), `title = { en = "Demo", zh = "演示" }`,
			`title = { en = "Demo", zh = "演示" }`+"\ndemos = [\"./00-demo/runtime\"]", 1))
		l, err := lab.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.UpdateTestSums(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWrongSolutionsRunWhileOthersBuild: with one build worker and two run workers, a wrong solution's test
// binary runs while the next one builds and then runs too. Each of the two wrong solutions is rejected only
// when its binary sees the other one running (a rendezvous through marker files); run one at a time, both
// would pass, and verify would report them as not rejected.
func TestWrongSolutionsRunWhileOthersBuild(t *testing.T) {
	root := labtest.Course(t)
	dir := t.TempDir()
	t.Setenv("LAB_TEST_RENDEZVOUS", dir)
	const sol = "solutions/00-demo/calc/add.go"
	patched := `// Package calc is arithmetic for the fixture course.
package calc

import (
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Add is wrong only once two test binaries run at the same time.
func Add(a, b int) int {
	dir := os.Getenv("LAB_TEST_RENDEZVOUS")
	_ = os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) >= 2 {
			return a * b
		}
	}
	return a + b
}
`
	oldLines := strings.SplitAfter(strings.TrimSuffix(labtest.Read(t, root, sol), "\n"), "\n")
	newLines := strings.SplitAfter(strings.TrimSuffix(patched, "\n"), "\n")
	var diff strings.Builder
	fmt.Fprintf(&diff, "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n@@ -1,%d +1,%d @@\n", sol, sol, sol, sol, len(oldLines), len(newLines))
	for _, l := range oldLines {
		diff.WriteString("-" + strings.TrimSuffix(l, "\n") + "\n")
	}
	for _, l := range newLines {
		diff.WriteString("+" + strings.TrimSuffix(l, "\n") + "\n")
	}
	if err := os.Remove(filepath.Join(root, "solutions/wrong/00-add/multiplies.patch")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		labtest.Write(t, root, "solutions/wrong/00-add/"+name+".patch", "Multiplies while another binary runs ("+name+").\n\n"+diff.String())
	}
	l, err := lab.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ex := l.Course().Exercise("00-add")
	rep, err := Run(context.Background(), l, Options{Exercises: []*course.Exercise{ex}, WrongOnly: true, MinWrong: 2, Workers: 1, RunWorkers: 2})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if ps := rep.Problems(); len(ps) > 0 {
		t.Fatalf("problems = %v, want none: the two test binaries did not run at the same time", ps)
	}
	for _, w := range rep.Chapters[0].Wrong {
		if !w.Rejected || !slices.Equal(w.CaughtBy, []string{"TestAdd"}) {
			t.Errorf("wrong %s = %+v, want rejected by TestAdd", w.ID, w)
		}
	}
}
