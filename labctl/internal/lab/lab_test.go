package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

func open(t *testing.T, root string) *Lab {
	t.Helper()
	l, err := Open(root)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	return l
}

func statuses(rs []runner.ExerciseResult) map[string]runner.Status {
	m := map[string]runner.Status{}
	for _, r := range rs {
		m[r.ExerciseID] = r.Status
	}
	return m
}

func TestCheck(t *testing.T) {
	l := open(t, labtest.Course(t))
	all, err := l.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		solution bool
		want     runner.Status
	}{
		{"starter fails", false, runner.StatusFail},
		{"solution overlay passes", true, runner.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := l.Check(context.Background(), all, CheckOptions{Solution: tt.solution}, nil)
			if err != nil {
				t.Fatalf("Check() error = %v", err)
			}
			for id, s := range statuses(rs) {
				if s != tt.want {
					t.Errorf("%s: status = %s, want %s", id, s, tt.want)
				}
			}
		})
	}
	// Only the learner's run is recorded; the solution run must not mark anything passed.
	if got := l.Status("00-add"); got != runner.StatusFail {
		t.Errorf("Status(00-add) = %s, want %s", got, runner.StatusFail)
	}
	if got := open(t, l.Root()).Status("00-greet"); got != runner.StatusFail {
		t.Errorf("Status(00-greet) after reopening = %s, want %s", got, runner.StatusFail)
	}
}

// TestCRLFCheckoutIsNotAnEdit: git with core.autocrlf (Windows) checks out every file with CRLF line ends.
func TestCRLFCheckoutIsNotAnEdit(t *testing.T) {
	root := labtest.Course(t)
	rel := "chapters/00-demo/calc/calc_test.go"
	labtest.Write(t, root, rel, strings.ReplaceAll(labtest.Read(t, root, rel), "\n", "\r\n"))
	if changes, err := open(t, root).EditedTests(); err != nil || len(changes) != 0 {
		t.Errorf("EditedTests() after a CRLF checkout = %v, %v, want no changes", changes, err)
	}
}

func TestCheckWarnsAboutEditedTests(t *testing.T) {
	root := labtest.Course(t)
	labtest.Write(t, root, "chapters/00-demo/greet/greet_test.go", "package greet\n\nimport \"testing\"\n\nfunc TestGreet(t *testing.T) {}\n")
	l := open(t, root)
	exs, _ := l.Resolve("00-greet")
	var warnings []string
	rs, err := l.Check(context.Background(), exs, CheckOptions{Logf: func(f string, a ...any) {
		warnings = append(warnings, f)
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 {
		t.Fatalf("warnings = %v, want one about the edited test", warnings)
	}
	// Every test passed, but on a test the learner emptied: that is never recorded as a plain pass.
	if rs[0].Status != runner.StatusModified || !strings.Contains(rs[0].Message, "00-demo/greet/greet_test.go (edited)") {
		t.Errorf("result = %s %q, want %s naming the edited test", rs[0].Status, rs[0].Message, runner.StatusModified)
	}
	if got := open(t, root).Status("00-greet"); got != runner.StatusModified {
		t.Errorf("recorded status = %s, want %s", got, runner.StatusModified)
	}
	// Another exercise's pass in the same chapter is untouched: its tests are the course's.
	exs, _ = l.Resolve("00-add")
	if rs, err := l.Check(context.Background(), exs, CheckOptions{Solution: true}, nil); err != nil || rs[0].Status != runner.StatusPass {
		t.Errorf("Check(00-add, solution) = %v, %v; want pass", rs, err)
	}
	changes, err := l.EditedTests()
	if err != nil || len(changes) != 1 || changes[0] != (TestFileChange{Path: "00-demo/greet/greet_test.go", Change: "edited"}) {
		t.Errorf("EditedTests() = %v, %v, want greet_test.go edited", changes, err)
	}
}

func TestCheckStartsInfra(t *testing.T) {
	l := open(t, labtest.Course(t))
	l.Course().Exercise("00-greet").Infra = []string{"redis", "mysql"}
	exs, _ := l.Resolve("00")
	var got []string
	stopped := false
	stops := 0
	l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
		got = append(got, services...)
		return []string{"LAB_REDIS_ADDR=127.0.0.1:1"}, func(context.Context) error { stops++; return nil }, nil
	}
	if _, err := l.Check(context.Background(), exs, CheckOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	stopped = stops == 2
	if !slices.Equal(got, []string{"mysql", "redis"}) || !stopped {
		t.Errorf("StartInfra got %v (%d stops), want [mysql redis], each stopped", got, stops)
	}
	l.StartInfra = func(context.Context, []string, func(string, ...any)) ([]string, func(context.Context) error, error) {
		return nil, nil, errors.New("docker is not running")
	}
	rs, err := l.Check(context.Background(), exs, CheckOptions{}, nil)
	if err != nil || rs[2].Status != runner.StatusInfraError || !strings.Contains(rs[2].Message, "docker is not running") {
		t.Errorf("Check() with failing infra = %+v, %v; want 00-greet an infra error that says why", rs, err)
	}
}

// One service down blanks only the exercises that need it: the others still run and report.
func TestCheckWithOneServiceDown(t *testing.T) {
	l := open(t, labtest.Course(t))
	l.Course().Exercise("00-greet").Infra = []string{"redis"}
	l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
		return nil, nil, errors.New("redis-server not found: apt-get install redis-server")
	}
	exs, _ := l.Resolve("00")
	rs, err := l.Check(context.Background(), exs, CheckOptions{Solution: true}, nil)
	if err != nil {
		t.Fatalf("Check(00) = %v, want results for every exercise", err)
	}
	got := map[string]runner.ExerciseResult{}
	for _, r := range rs {
		got[r.ExerciseID] = r
	}
	if got["00-add"].Status != runner.StatusPass || got["00-sub"].Status != runner.StatusPass {
		t.Errorf("00-add, 00-sub = %s, %s; want both to run and pass (they need no redis)", got["00-add"].Status, got["00-sub"].Status)
	}
	if g := got["00-greet"]; g.Status != runner.StatusInfraError || !strings.Contains(g.Message, "apt-get install redis-server") {
		t.Errorf("00-greet = %s %q, want an infra error with the reason and the fix", g.Status, g.Message)
	}
}

// Ctrl-C while servers start is the cause of the stop: not an infrastructure error.
func TestCheckInterruptedWhileStartingInfra(t *testing.T) {
	l := open(t, labtest.Course(t))
	l.Course().Exercise("00-greet").Infra = []string{"redis"}
	ctx, cancel := context.WithCancel(context.Background())
	l.StartInfra = func(ctx context.Context, services []string, logf func(string, ...any)) ([]string, func(context.Context) error, error) {
		cancel()
		return nil, nil, ctx.Err()
	}
	exs, _ := l.Resolve("00")
	if rs, err := l.Check(ctx, exs, CheckOptions{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Check() interrupted while starting infra = %v, %v; want context.Canceled (exit 130), not infra errors", rs, err)
	}
}

func TestNextHint(t *testing.T) {
	l := open(t, labtest.Course(t))
	for i, want := range []int{1, 2, 3, 3} {
		idx, total, h, err := l.NextHint("00-add")
		if err != nil || idx != want || total != 3 || h.En == "" || h.Zh == "" {
			t.Errorf("NextHint call %d = %d/%d %+v %v, want %d/3 with both languages", i+1, idx, total, h, err, want)
		}
	}
	if got := len(open(t, l.Root()).RevealedHints("00-add")); got != 3 {
		t.Errorf("RevealedHints after reopening = %d, want 3", got)
	}
	if _, _, _, err := l.NextHint("00-nope"); !errors.Is(err, course.ErrUnknownTarget) {
		t.Errorf("NextHint(unknown) = %v, want ErrUnknownTarget", err)
	}
}

func TestLesson(t *testing.T) {
	l := open(t, labtest.Course(t))
	for lang, want := range map[string]string{"en": "# Demo", "zh": "# 演示"} {
		md, err := l.Lesson("00", lang)
		if err != nil || !strings.HasPrefix(md, want) {
			t.Errorf("Lesson(00, %s) = %q, %v, want it to start with %q", lang, md, err, want)
		}
	}
}

func TestResetNeedsGit(t *testing.T) {
	l := open(t, labtest.Course(t))
	if _, err := l.Reset(context.Background(), "00"); !errors.Is(err, ErrNotGitCheckout) {
		t.Errorf("Reset() outside git = %v, want ErrNotGitCheckout", err)
	}
}

func TestResetAndSolution(t *testing.T) {
	root := labtest.Course(t)
	labtest.GitCommit(t, root)
	l := open(t, root)
	ctx := context.Background()
	starterAdd := labtest.Read(t, root, "chapters/00-demo/calc/add.go")
	starterSub := labtest.Read(t, root, "chapters/00-demo/calc/sub.go")

	diff, err := l.SolutionDiff("00-add")
	if err != nil || !strings.Contains(diff, "+\treturn a + b") || !strings.Contains(diff, "-\treturn 0") {
		t.Fatalf("SolutionDiff(00-add) = %q, %v, want a diff from return 0 to return a + b", diff, err)
	}
	if strings.Contains(diff, "sub.go") {
		t.Errorf("SolutionDiff(00-add) = %q, want only add.go (the file marked TODO(00-add))", diff)
	}
	if got := labtest.Read(t, root, "chapters/00-demo/calc/add.go"); got != starterAdd {
		t.Fatal("SolutionDiff changed the learner's file")
	}

	ch, err := l.ApplySolution(ctx, "00")
	if err != nil {
		t.Fatalf("ApplySolution(00) = %v", err)
	}
	if len(ch.Written) != 3 || ch.BackupDir == "" {
		t.Fatalf("ApplySolution(00) = %+v, want 3 files written and a backup", ch)
	}
	if got := labtest.Read(t, root, filepath.Join(ch.BackupDir, "chapters/00-demo/calc/add.go")); got != starterAdd {
		t.Errorf("backup of add.go = %q, want the learner's version", got)
	}

	if _, err := l.Check(ctx, []*course.Exercise{l.Course().Exercise("00-add")}, CheckOptions{}, nil); err != nil {
		t.Fatalf("Check(00-add) = %v", err)
	}
	if got := l.Status("00-add"); got != runner.StatusPass {
		t.Fatalf("Status(00-add) after checking the solution = %s, want %s", got, runner.StatusPass)
	}
	firstBackup := ch.BackupDir
	ch, err = l.Reset(ctx, "00-add") // at once: the two backups must still not share a directory
	if err != nil {
		t.Fatalf("Reset(00-add) = %v", err)
	}
	if !slices.Equal(ch.Written, []string{"chapters/00-demo/calc/add.go"}) {
		t.Errorf("Reset(00-add) wrote %v, want only add.go (the file with TODO(00-add))", ch.Written)
	}
	if got := labtest.Read(t, root, "chapters/00-demo/calc/add.go"); got != starterAdd {
		t.Errorf("add.go after reset = %q, want the starter", got)
	}
	if got := labtest.Read(t, root, "chapters/00-demo/calc/sub.go"); got == starterSub {
		t.Error("Reset(00-add) also reset sub.go")
	}
	if _, err := os.Stat(filepath.Join(root, ch.BackupDir, "chapters/00-demo/calc/add.go")); err != nil {
		t.Errorf("no backup of the solved add.go: %v", err)
	}
	if got := labtest.Read(t, root, filepath.Join(firstBackup, "chapters/00-demo/calc/add.go")); got != starterAdd {
		t.Errorf("first backup of add.go after a second change = %q, want the learner's version still", got)
	}
	// The starter is back: the cached pass must not survive it, here or in the state file.
	if got := open(t, root).Status("00-add"); got != runner.StatusNotRun {
		t.Errorf("Status(00-add) after Reset = %s, want %s", got, runner.StatusNotRun)
	}
}

// A learner who commits their work still gets the starter back from reset, and reset brings back the
// exercise's edited tests too.
func TestResetRestoresThePinnedStarterAfterACommit(t *testing.T) {
	root := labtest.Course(t)
	labtest.GitCommit(t, root)
	starterAdd := labtest.Read(t, root, "chapters/00-demo/calc/add.go")
	starterTest := labtest.Read(t, root, "chapters/00-demo/calc/calc_test.go")
	labtest.Write(t, root, "chapters/00-demo/calc/add.go", labtest.Read(t, root, "solutions/00-demo/calc/add.go"))
	labtest.Write(t, root, "chapters/00-demo/calc/calc_test.go", "package calc\n")
	labtest.GitCommit(t, root) // the learner's own commit: HEAD now holds the solved file and the edited test
	l := open(t, root)
	ch, err := l.Reset(context.Background(), "00-add")
	if err != nil {
		t.Fatalf("Reset(00-add) = %v", err)
	}
	if got := labtest.Read(t, root, "chapters/00-demo/calc/add.go"); got != starterAdd {
		t.Errorf("add.go after Reset(00-add) = %q, want the starter (not the learner's HEAD)", got)
	}
	if got := labtest.Read(t, root, "chapters/00-demo/calc/calc_test.go"); got != starterTest {
		t.Errorf("calc_test.go after Reset(00-add) = %q, want the course's test back", got)
	}
	if !slices.Equal(ch.Written, []string{"chapters/00-demo/calc/add.go", "chapters/00-demo/calc/calc_test.go"}) {
		t.Errorf("Reset(00-add) wrote %v, want add.go and the package's test file", ch.Written)
	}
}

// An exercise's files are those that mark its holes anywhere in the chapter, not its package: and
// where two exercises share a file, SharedWith says so before anything changes.
func TestExerciseFilesFollowTheHoles(t *testing.T) {
	root := labtest.Course(t)
	// 00-greet's tests live in greet/, but say it has a second hole in calc/sub.go, next to 00-sub's.
	labtest.Write(t, root, "chapters/00-demo/calc/sub.go", "package calc\n\n// Sub returns a-b.\nfunc Sub(a, b int) int {\n\t// TODO(00-sub): subtract.\n\t// TODO(00-greet): and greet.\n\treturn 0\n}\n")
	l := open(t, root)
	if _, err := l.UpdateTestSums(); err != nil {
		t.Fatal(err)
	}
	labtest.GitCommit(t, root)
	ctx := context.Background()
	files, shared, err := l.ExerciseFiles(ctx, l.Course().Exercise("00-sub"))
	want := []string{filepath.Join(root, "chapters/00-demo/calc/sub.go")}
	if err != nil || !slices.Equal(files, want) || !slices.Equal(shared, []string{"00-greet"}) {
		t.Fatalf("ExerciseFiles(00-sub) = %v, %v, %v; want %v sharing with 00-greet", files, shared, err, want)
	}
	got, err := l.SharedWith(ctx, "00-greet")
	if err != nil || !slices.Equal(got, []string{"00-sub"}) {
		t.Errorf("SharedWith(00-greet) = %v, %v; want [00-sub]", got, err)
	}
	if got, _ := l.SharedWith(ctx, "00"); got != nil {
		t.Errorf("SharedWith(00) = %v, want nil for a chapter", got)
	}
	ch, err := l.ApplySolution(ctx, "00-greet")
	wantWritten := []string{"chapters/00-demo/calc/sub.go", "chapters/00-demo/greet/greet.go"}
	if err != nil || !slices.Equal(ch.Written, wantWritten) {
		t.Errorf("ApplySolution(00-greet) = %+v, %v; want %v, the files that mark its holes", ch, err, wantWritten)
	}
}

func TestWatch(t *testing.T) {
	root := labtest.Course(t)
	l := open(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := l.Watch(ctx, "00")
	if err != nil {
		t.Fatal(err)
	}
	labtest.Write(t, root, "chapters/00-demo/greet/greet.go", "package greet\n")
	select {
	case p := <-ch:
		if filepath.Base(p) != "greet.go" {
			t.Errorf("Watch sent %q, want greet.go", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch sent nothing within 5s of a save")
	}
}

// TestWriteKeepsEveryBackup changes one file several times in quick succession: each change's backup
// must keep the version it replaced, even when two changes fall in the same millisecond.
func TestWriteKeepsEveryBackup(t *testing.T) {
	root := labtest.Course(t)
	l := open(t, root)
	path := filepath.Join(root, "chapters", "00-demo", "calc", "add.go")
	versions := []string{labtest.Read(t, root, "chapters/00-demo/calc/add.go")}
	var backups []string
	for i := range 20 {
		next := fmt.Sprintf("package calc\n\n// version %d\n", i)
		ch, err := l.write(map[string][]byte{path: []byte(next)})
		if err != nil {
			t.Fatalf("write() = %v", err)
		}
		backups = append(backups, ch.BackupDir)
		versions = append(versions, next)
	}
	for i, dir := range backups {
		if got := labtest.Read(t, root, filepath.Join(dir, "chapters/00-demo/calc/add.go")); got != versions[i] {
			t.Errorf("backup %d (%s) = %q, want %q", i, dir, got, versions[i])
		}
	}
}
