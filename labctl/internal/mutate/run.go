package mutate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/gomicrolab/microlab/infra"
	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// GremlinsPackage is the tool that makes and runs the mutants, pinned in the root go.mod (go get -tool).
const GremlinsPackage = "github.com/go-gremlins/gremlins/cmd/gremlins"

// Operators are the gremlins mutators turned on: its defaults (arithmetic, comparison boundaries and
// negations, ++/--, unary minus) plus the ones that hit service code: && <-> ||, break <-> continue,
// += <-> -=, and x op= y -> x = y.
var Operators = []string{
	"arithmetic-base", "conditionals-boundary", "conditionals-negation", "increment-decrement",
	"invert-negatives", "invert-logical", "invert-loopctrl", "invert-assignments", "remove-self-assignments",
}

// InfraStarter starts the servers a unit's tests need and returns the environment that points the
// tests at them (see lab.InfraStarter); nil Options.StartInfra means infra.StartSession.
type InfraStarter func(ctx context.Context, services []string, logf func(string, ...any)) (env []string, stop func(context.Context) error, err error)

// Options tune Run. The zero value works for the course.
type Options struct {
	// ToolDir is a directory inside the module that pins gremlins (default: the course root).
	ToolDir string
	// TimeoutCoefficient multiplies the unit's coverage run time into each mutant's time limit
	// (default 8: the machines running this are shared and loaded, and a slow run is not a kill).
	TimeoutCoefficient int
	// UnitTimeout bounds one gremlins run, coverage and every mutant (default 45 minutes).
	UnitTimeout time.Duration
	// Exercises, when not empty, keeps only the units owned by one of these exercise ids.
	Exercises  []string
	StartInfra InfraStarter
	Logf       func(format string, args ...any)
	// OnUnit, when set, sees the report after each unit (to save a long run as it goes).
	OnUnit func(*Report)
}

// Run applies every solution onto a copy of chapters/, then runs gremlins once per unit, testing each
// mutant with the owners' tests only (one worker, so a loaded machine stays usable). files is
// lab.SolutionFiles for the whole course.
func Run(ctx context.Context, c *course.Course, files map[string]string, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.ToolDir == "" {
		opts.ToolDir = c.Root
	}
	if opts.TimeoutCoefficient == 0 {
		opts.TimeoutCoefficient = 8
	}
	if opts.UnitTimeout == 0 {
		opts.UnitTimeout = 45 * time.Minute
	}
	if opts.StartInfra == nil {
		opts.StartInfra = infra.StartNamed
	}
	units, err := Plan(c, files)
	if err != nil {
		return nil, err
	}
	if len(opts.Exercises) > 0 {
		units = slices.DeleteFunc(units, func(u *Unit) bool {
			return !slices.ContainsFunc(u.Owners, func(ex *course.Exercise) bool { return slices.Contains(opts.Exercises, ex.ID) })
		})
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("mutation testing needs the go command: %w", err)
	}
	if goBin, err = filepath.Abs(goBin); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "labctl-mutate-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	copyDir := filepath.Join(tmp, "chapters")
	modPath, err := solvedCopy(ctx, goBin, c, files, copyDir)
	if err != nil {
		return nil, err
	}
	gremlins := filepath.Join(tmp, "bin", "gremlins")
	opts.Logf("building gremlins")
	build := exec.CommandContext(ctx, goBin, "build", "-o", gremlins, GremlinsPackage)
	build.Dir = opts.ToolDir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build gremlins (pin it with `go get -tool %s`): %w\n%s", GremlinsPackage, err, out)
	}

	rep := &Report{Course: c}
	for i, u := range units {
		t0 := time.Now()
		res := runUnit(ctx, goBin, gremlins, modPath, copyDir, filepath.Join(tmp, fmt.Sprintf("unit%02d", i)), u, opts)
		res.Elapsed = time.Since(t0)
		rep.Units = append(rep.Units, res)
		opts.Logf("[%d/%d] %s: %s (%v)", i+1, len(units), u.Name(), res.summary(), res.Elapsed.Round(time.Second))
		if opts.OnUnit != nil {
			rep.Elapsed = time.Since(start)
			opts.OnUnit(rep)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// solvedCopy copies chapters/ to dst, puts every solution file in place, and makes the module's local
// replace directives absolute so that the copy (and gremlins' own copies of it) still build.
func solvedCopy(ctx context.Context, goBin string, c *course.Course, files map[string]string, dst string) (modPath string, err error) {
	src := c.ChaptersDir()
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		return "", fmt.Errorf("copy chapters: %w", err)
	}
	for to, from := range files {
		rel, err := filepath.Rel(src, to)
		if err != nil {
			return "", err
		}
		if err := copyFile(from, filepath.Join(dst, rel)); err != nil {
			return "", fmt.Errorf("apply solution: %w", err)
		}
	}
	gomod := filepath.Join(dst, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	mf, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return "", err
	}
	// Outside the workspace the copy needs the checksums the workspace had: those of the replaced local
	// modules (a tool pinned in the root go.mod can raise a shared dependency) and go.work.sum.
	sums := []string{filepath.Join(c.Root, "go.work.sum")}
	for _, r := range mf.Replace {
		if modfile.IsDirectoryPath(r.New.Path) && !filepath.IsAbs(r.New.Path) {
			abs := filepath.Join(src, filepath.FromSlash(r.New.Path))
			sums = append(sums, filepath.Join(abs, "go.sum"))
			edit := exec.CommandContext(ctx, goBin, "mod", "edit", "-replace", r.Old.Path+"="+abs)
			edit.Dir = dst
			edit.Env = append(os.Environ(), "GOWORK=off")
			if out, err := edit.CombinedOutput(); err != nil {
				return "", fmt.Errorf("go mod edit: %w\n%s", err, out)
			}
		}
	}
	if err := appendSums(filepath.Join(dst, "go.sum"), sums); err != nil {
		return "", err
	}
	return mf.Module.Mod.Path, nil
}

// appendSums adds the lines of the other go.sum files to gosum; a go.sum may hold more than it needs.
func appendSums(gosum string, others []string) error {
	data, err := os.ReadFile(gosum)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, o := range others {
		more, err := os.ReadFile(o)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n')
		}
		data = append(data, more...)
	}
	return os.WriteFile(gosum, data, 0o644)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// wrapperScript is the `go` that gremlins finds first on PATH. Gremlins runs `go test [flags] <path>`
// with the mutated package as <path> and has no flag for -run or -race; the wrapper keeps its flags and
// replaces the path with the owners' packages, their test regexp and, if needed, -race. Gremlins does
// not type-check its mutants (it turns string + into -), and counts any failing go test as a kill: a
// mutant that does not build exits 2 here, which gremlins reports as NOT VIABLE.
const wrapperScript = `#!/bin/sh
# Written by labctl mutate; removed when it ends.
if [ "$1" != test ]; then exec %[1]s "$@"; fi
n=$#; i=0; prev=; profile=
for a do
  i=$((i+1))
  if [ "$i" -eq 1 ]; then set --; fi
  if [ "$i" -lt "$n" ]; then set -- "$@" "$a"; fi
  if [ "$prev" = -coverprofile ]; then profile=$a; fi
  prev=$a
done
out=$(%[1]s "$@" %[2]s 2>&1)
rc=$?
printf '%%s\n' "$out"
if [ -n "$profile" ] && [ -f "$profile" ]; then
  cp "$profile" %[3]s
  cat >> "$profile" <<'LABCTL_CASES'
%[4]sLABCTL_CASES
fi
case "$out" in
  *"[build failed]"*|*"[setup failed]"*) exit 2 ;;
esac
exit $rc
`

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func runUnit(ctx context.Context, goBin, gremlins, modPath, copyDir, work string, u *Unit, opts Options) UnitResult {
	res := UnitResult{Unit: u}
	if len(u.Owners) == 0 {
		res.NotMutated = "no exercise owns these files (no TODO(<id>) marker in the starter, and no exercise tests this package)"
		return res
	}
	pkgs, run, race, services := testsOf(u)
	args := []string{"-run", run}
	if race {
		args = append(args, "-race")
	}
	for _, p := range pkgs {
		args = append(args, modPath+"/"+strings.TrimPrefix(p, "./"))
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	bin := filepath.Join(work, "bin")
	gtmp := filepath.Join(work, "tmp")
	for _, d := range []string{bin, gtmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			res.NotMutated = err.Error()
			return res
		}
	}
	unitDir := filepath.Join(copyDir, filepath.FromSlash(u.Dir))
	cases, err := caseExprs(unitDir, u.Files)
	if err != nil {
		res.NotMutated = err.Error()
		return res
	}
	realProfile := filepath.Join(work, "coverage.out")
	script := fmt.Sprintf(wrapperScript, shellQuote(goBin), strings.Join(quoted, " "), shellQuote(realProfile),
		caseBlocks(modPath+"/"+u.Dir, cases))
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		res.NotMutated = err.Error()
		return res
	}

	gargs := []string{"unleash", "--workers", "1", "--timeout-coefficient", fmt.Sprint(opts.TimeoutCoefficient),
		"--coverpkg", modPath + "/" + u.Dir, "--output", filepath.Join(work, "result.json")}
	for _, op := range Operators {
		gargs = append(gargs, "--"+op)
	}
	others, err := otherGoFiles(unitDir, u.Files)
	if err != nil {
		res.NotMutated = err.Error()
		return res
	}
	for _, f := range others {
		gargs = append(gargs, "--exclude-files", "^"+regexp.QuoteMeta(f)+"$")
	}
	gargs = append(gargs, unitDir)

	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=", "TMPDIR="+gtmp,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if len(services) > 0 {
		infraEnv, stop, err := opts.StartInfra(ctx, services, opts.Logf)
		if err != nil {
			res.NotMutated = fmt.Sprintf("could not start %s: %v", strings.Join(services, ", "), err)
			return res
		}
		defer stop(context.WithoutCancel(ctx))
		env = append(env, infraEnv...)
	}

	uctx, cancel := context.WithTimeout(ctx, opts.UnitTimeout)
	defer cancel()
	cmd := exec.CommandContext(uctx, gremlins, gargs...)
	cmd.Dir = unitDir
	cmd.Env = env
	runner.OwnProcessGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	data, err := os.ReadFile(filepath.Join(work, "result.json"))
	if runErr == nil && os.IsNotExist(err) && strings.Contains(out.String(), "No results to report") {
		return res // no operator gremlins knows occurs in these files: nothing to mutate
	}
	if runErr != nil || err != nil {
		why := "gremlins failed"
		if uctx.Err() != nil {
			why = fmt.Sprintf("gremlins did not finish within %v", opts.UnitTimeout)
		}
		res.NotMutated = fmt.Sprintf("%s: %v\n%s", why, errors.Join(runErr, err), tail(out.String(), 15))
		return res
	}
	muts, err := parseResult(data, u, unitDir)
	if err != nil {
		res.NotMutated = err.Error()
		return res
	}
	profile, err := os.ReadFile(realProfile)
	if err != nil {
		res.NotMutated = fmt.Sprintf("the coverage profile was not kept: %v", err)
		return res
	}
	uncoverCases(muts, cases, profile)
	res.Mutants = muts
	return res
}

// otherGoFiles lists the non-test Go files under dir (recursively: gremlins walks subdirectories)
// that are not the unit's, relative to dir, for --exclude-files.
func otherGoFiles(dir string, keep []string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") && !slices.Contains(keep, rel) {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// gremlinsResult is the part of gremlins' --output JSON this package reads.
type gremlinsResult struct {
	Files []struct {
		Filename  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

func parseResult(data []byte, u *Unit, unitDir string) ([]Mutant, error) {
	var r gremlinsResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read gremlins result: %w", err)
	}
	var out []Mutant
	for _, f := range r.Files {
		name := filepath.ToSlash(f.Filename)
		lines := strings.Split(readOrEmpty(filepath.Join(unitDir, filepath.FromSlash(name))), "\n")
		for _, m := range f.Mutations {
			code := ""
			if m.Line >= 1 && m.Line <= len(lines) {
				code = strings.TrimSpace(lines[m.Line-1])
			}
			out = append(out, Mutant{File: u.Dir + "/" + name, Line: m.Line, Column: m.Column,
				Operator: m.Type, Status: Status(m.Status), Code: code})
		}
	}
	slices.SortFunc(out, compareMutants)
	return out, nil
}

func readOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
