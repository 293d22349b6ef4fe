package mutate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// fixture is lab's tiny course: 00-add owns calc/add.go, 00-sub calc/sub.go (same package, different
// tests), 00-greet greet/greet.go.
const fixture = "../lab/testdata/repo"

func copyFixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openFixture(t *testing.T, root string) (*course.Course, map[string]string) {
	t.Helper()
	l, err := lab.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := l.SolutionFiles(l.Course().Chapters)
	if err != nil {
		t.Fatal(err)
	}
	return l.Course(), files
}

func describe(units []*Unit) []string {
	var out []string
	for _, u := range units {
		out = append(out, u.Name()+": "+strings.Join(u.Files, ","))
	}
	return out
}

func TestPlanOwners(t *testing.T) {
	root := copyFixture(t)
	calc := filepath.Join(root, "chapters", "00-demo", "calc")
	// sub.go's starter also names 00-add: the file is shared, and judged by both exercises' tests.
	if err := os.WriteFile(filepath.Join(calc, "sub.go"), []byte("package calc\n\n// TODO(00-sub) TODO(00-add)\nfunc Sub(a, b int) int { return 0 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A solution file without a starter belongs to the exercises whose package is its directory.
	if err := os.WriteFile(filepath.Join(root, "solutions", "00-demo", "greet", "helper.go"), []byte("package greet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// One that no exercise tests is reported without owners.
	if err := os.MkdirAll(filepath.Join(root, "solutions", "00-demo", "util"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "solutions", "00-demo", "util", "util.go"), []byte("package util\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, files := openFixture(t, root)
	units, err := Plan(c, files)
	if err != nil {
		t.Fatal(err)
	}
	got := describe(units)
	want := []string{
		"00-demo/calc (00-add): add.go",
		"00-demo/calc (00-add, 00-sub): sub.go",
		"00-demo/greet (00-greet): greet.go,helper.go",
		"00-demo/util (): util.go",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Plan = %q, want %q: files go to the exercises whose TODO marker they carry, else to their package's", got, want)
	}
	pkgs, run, race, infra := testsOf(units[1])
	if !slices.Equal(pkgs, []string{"./00-demo/calc"}) || run != "(^TestAdd)|(^TestSub)" || race || len(infra) != 0 {
		t.Errorf("testsOf(shared unit) = %q, %q, %v, %q; want one package and the alternation of both regexps", pkgs, run, race, infra)
	}
}

func TestWriteMarkdownIsSortedAndStable(t *testing.T) {
	c, files := openFixture(t, fixture)
	units, err := Plan(c, files)
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Course: c, Commit: "abc123", Elapsed: 90 * time.Second}
	for _, u := range units {
		res := UnitResult{Unit: u}
		switch u.Dir + "/" + u.Files[0] {
		case "00-demo/calc/add.go":
			// Out of order on purpose: the writer sorts.
			res.Mutants = []Mutant{
				{File: "00-demo/calc/add.go", Line: 9, Column: 2, Operator: "INVERT_LOOPCTRL", Status: Lived, Code: "break"},
				{File: "00-demo/calc/add.go", Line: 6, Column: 11, Operator: "ARITHMETIC_BASE", Status: Killed, Code: "return a + b"},
				{File: "00-demo/calc/add.go", Line: 7, Column: 5, Operator: "CONDITIONALS_NEGATION", Status: NotCovered, Code: "if a|b == 0 {"},
				{File: "00-demo/calc/add.go", Line: 8, Column: 3, Operator: "INCREMENT_DECREMENT", Status: Lived, Code: "gen++"},
			}
		case "00-demo/calc/sub.go":
			res.NotMutated = "could not start mysql: no server\nsecond line"
		}
		rep.Units = append(rep.Units, res)
	}
	var saved bytes.Buffer // as `labctl mutate --save` does: gremlins' verdicts, before any explanation
	if err := rep.WriteJSON(&saved); err != nil {
		t.Fatal(err)
	}
	eqs := []Equivalent{
		{File: "00-demo/calc/add.go", Operator: "INCREMENT_DECREMENT", Code: "gen++", Why: course.Text{En: "only compared | for equality", Zh: "只比较是否相等"}},
		{File: "00-demo/calc/add.go", Operator: "INCREMENT_DECREMENT", Code: "gone++", Why: course.Text{En: "stale", Zh: "过时"}},
	}
	if unused := rep.MarkEquivalent(eqs); len(unused) != 1 || unused[0].Code != "gone++" {
		t.Errorf("MarkEquivalent unused = %v, want only the entry that matches no mutant (gone++)", unused)
	}
	var a, b bytes.Buffer
	if err := rep.WriteMarkdown(&a, "en"); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&b, "en"); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatal("WriteMarkdown gave two different reports for one run")
	}
	md := a.String()
	for _, want := range []string{
		"Produced on commit `abc123` in 2 minutes.",
		"| 00 00-demo | 1 | 1 | 1 | 0 | 0 | 1 | 33% (Not mutated: 1) |",
		"| 00-add | 1 | 1 | 1 | 0 | 0 | 1 | 33% |",
		"| 00-sub | 0 | 0 | 0 | 0 | 0 | 0 | – (Not mutated) |",
		"| `00-demo/calc/add.go:8:3` | INCREMENT_DECREMENT | `gen++` | only compared \\| for equality |",
		"| `00-demo/calc/add.go:7:5` | CONDITIONALS_NEGATION | not covered | `if a\\|b == 0 {` |\n| `00-demo/calc/add.go:9:2` | INVERT_LOOPCTRL | lived | `break` |",
		"- **Not mutated**: could not start mysql: no server",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "add.go:6:11") {
		t.Errorf("report lists a killed mutant among the survivors:\n%s", md)
	}

	back, err := ReadJSON(&saved, c)
	if err != nil {
		t.Fatal(err)
	}
	back.MarkEquivalent(eqs)
	var again bytes.Buffer
	if err := back.WriteMarkdown(&again, "en"); err != nil {
		t.Fatal(err)
	}
	if again.String() != md {
		t.Errorf("a report saved and loaded again renders differently:\n%s", again.String())
	}
	var zhOut bytes.Buffer
	if err := rep.WriteMarkdown(&zhOut, "zh"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(zhOut.String(), "| `00-demo/calc/add.go:8:3` | INCREMENT_DECREMENT | `gen++` | 只比较是否相等 |") {
		t.Errorf("Chinese report lacks the equivalent mutant's reason:\n%s", zhOut.String())
	}
	if !strings.Contains(zhOut.String(), "| `00-demo/calc/add.go:9:2` | INVERT_LOOPCTRL | 存活 | `break` |") {
		t.Errorf("Chinese report lacks the surviving mutant:\n%s", zhOut.String())
	}
}

// TestRunOnFixture runs gremlins for real on the fixture: each file is mutated and judged by its
// owner's tests only, and a mutant that does not compile is not counted as killed.
func TestRunOnFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs gremlins (about a minute)")
	}
	c, files := openFixture(t, fixture)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, c, files, Options{ToolDir: ".", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, u := range rep.Units {
		if u.NotMutated != "" {
			t.Fatalf("%s not mutated: %s", u.Name(), u.NotMutated)
		}
		for _, m := range u.Mutants {
			got[m.File+" "+m.Operator] = m.Status
		}
	}
	want := map[string]Status{
		"00-demo/calc/add.go ARITHMETIC_BASE":    Killed,    // a - b: TestAdd fails
		"00-demo/calc/sub.go ARITHMETIC_BASE":    Killed,    // a + b: TestSub fails
		"00-demo/greet/greet.go ARITHMETIC_BASE": NotViable, // "hello, " - name does not compile
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("mutant %s: status %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
}

func TestCaseExpressionsFollowTheirSwitch(t *testing.T) {
	dir := t.TempDir()
	src := `package p

const limit = 2 * 50

func Kind(n int) string {
	switch {
	case n < 0:
		return "negative"
	case n == 0 || n > 100:
		return "edge"
	}
	return "positive"
}

func Never(n int) bool {
	switch {
	case n > 1:
		return true
	}
	return false
}
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cases, err := caseExprs(dir, []string{"p.go"})
	if err != nil {
		t.Fatal(err)
	}
	blocks := caseBlocks("example.com/m/p", cases)
	want := "example.com/m/p/p.go:3.15,3.21 1 1\nexample.com/m/p/p.go:7.7,7.12 1 1\nexample.com/m/p/p.go:9.7,9.24 1 1\nexample.com/m/p/p.go:17.7,17.12 1 1\n"
	if blocks != want {
		t.Errorf("caseBlocks = %q, want %q: one covered block per case expression list", blocks, want)
	}
	// The real profile: Kind's body ran (its switch header is in the first block), Never's did not; the
	// package ran, so a survivor in its constant stays a survivor.
	profile := []byte("mode: set\n" +
		"example.com/m/p/p.go:5.27,6.9 1 1\n" +
		"example.com/m/p/p.go:7.13,8.20 1 1\n" +
		"example.com/m/p/p.go:15.25,16.9 1 0\n")
	muts := []Mutant{
		{File: "p/p.go", Line: 9, Column: 9, Operator: "CONDITIONALS_NEGATION", Status: Lived},
		{File: "p/p.go", Line: 17, Column: 9, Operator: "CONDITIONALS_BOUNDARY", Status: Lived},
		{File: "p/p.go", Line: 17, Column: 9, Operator: "CONDITIONALS_NEGATION", Status: Killed},
		{File: "p/p.go", Line: 3, Column: 17, Operator: "ARITHMETIC_BASE", Status: Lived},
	}
	uncoverCases(muts, cases, profile)
	var got []Status
	for _, m := range muts {
		got = append(got, m.Status)
	}
	if want := []Status{Lived, NotCovered, Killed, Lived}; !slices.Equal(got, want) {
		t.Errorf("statuses after uncoverCases = %v, want %v: only a survivor in a switch that never ran is not covered", got, want)
	}
}
