package runner

import (
	"path/filepath"
	"strings"
	"time"
)

// testEvent is one line of `go test -json` (cmd/test2json), including build events.
type testEvent struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// pkg is the package an event is about, without the " [pkg.test]" suffix of build events.
func (e testEvent) pkg() string {
	p := e.Package
	if p == "" {
		p = e.ImportPath
	}
	p, _, _ = strings.Cut(p, " ")
	return p
}

// Report is what one run said about each package it was asked for.
type Report struct {
	Packages map[string]*PackageReport // keyed by the request's relative path, "./00-x/cancel"
	Stderr   string                    // go's own stderr (download notes, warnings)

	dir, modPath string
	byImport     map[string]*PackageReport
	builds       map[string][]CompileError // build errors by import path (a dependency may be the one that fails)
}

// PackageReport is one package's outcome.
type PackageReport struct {
	Path          string // "./00-x/cancel"
	ImportPath    string
	Tests         []TestResult // top-level tests, in the order they started
	CompileErrors []CompileError
	Output        string // output not attributed to a test (package summary, crashes)
	Started       bool   // go test started the package's binary or tried to build it
	Done          bool   // the package reported pass or fail
	Failed        bool
	FailedBuild   string // the import path that failed to build, if any

	index     map[string]*testBuild
	order     []*testBuild
	stoppedBy string // the test whose crash ended the binary before every test ran, or ""
}

func newReport(dir, modPath string, pkgs []string) *Report {
	r := &Report{Packages: map[string]*PackageReport{}, dir: dir, modPath: modPath,
		byImport: map[string]*PackageReport{}, builds: map[string][]CompileError{}}
	for _, p := range pkgs {
		pr := &PackageReport{Path: p, ImportPath: r.importPath(p), index: map[string]*testBuild{}}
		r.Packages[p] = pr
		r.byImport[pr.ImportPath] = pr
	}
	return r
}

func (r *Report) importPath(rel string) string {
	rel = strings.TrimPrefix(strings.TrimPrefix(filepath.ToSlash(rel), "./"), ".")
	if rel == "" {
		return r.modPath
	}
	return r.modPath + "/" + rel
}

// relPath maps an import path back to "./rel" when it is inside the module.
func (r *Report) relPath(importPath string) string {
	if importPath == r.modPath {
		return "."
	}
	if rest, ok := strings.CutPrefix(importPath, r.modPath+"/"); ok {
		return "./" + rest
	}
	return importPath
}

func (r *Report) add(ev testEvent) {
	switch ev.Action {
	case "build-output":
		r.builds[ev.pkg()] = appendBuildOutput(r.builds[ev.pkg()], ev.Output, r.dir)
		return
	case "build-fail":
		return
	}
	pr := r.byImport[ev.pkg()]
	if pr == nil {
		// A package pattern expanded to something we did not ask for by name: keep it anyway.
		pr = &PackageReport{Path: r.relPath(ev.pkg()), ImportPath: ev.pkg(), index: map[string]*testBuild{}}
		r.Packages[pr.Path] = pr
		r.byImport[pr.ImportPath] = pr
	}
	pr.Started = true
	if ev.Test == "" {
		pr.addPackageEvent(ev)
		return
	}
	top, _, isSub := strings.Cut(ev.Test, "/")
	tr := pr.test(top)
	switch ev.Action {
	case "output":
		tr.Output += ev.Output
	case "pass", "fail", "skip":
		if isSub {
			if ev.Action == "skip" {
				tr.skippedSub = append(tr.skippedSub, ev.Test)
			}
			return
		}
		tr.Status = Status(ev.Action)
		tr.Elapsed = time.Duration(ev.Elapsed * float64(time.Second))
	}
}

func (pr *PackageReport) addPackageEvent(ev testEvent) {
	switch ev.Action {
	case "output":
		pr.Output += ev.Output
	case "pass", "fail", "skip":
		pr.Done = true
		pr.Failed = ev.Action == "fail"
		pr.FailedBuild = ev.FailedBuild
	}
}

// test returns the result being built for a top-level test, creating it on first sight.
func (pr *PackageReport) test(name string) *testBuild {
	if tb, ok := pr.index[name]; ok {
		return tb
	}
	tb := &testBuild{TestResult: TestResult{Package: pr.Path, Name: name, Status: StatusNotRun}}
	pr.index[name] = tb
	pr.order = append(pr.order, tb)
	return tb
}

// testBuild is a top-level test while its events arrive.
type testBuild struct {
	TestResult
	skippedSub []string // subtests that skipped: a skipped part of the spec is not a pass
}
