package mutate

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"

	"strings"
)

// Go's coverage profile has blocks for statements only: the expressions of a `case` lie between the
// switch's block and the clause's, and package-level const and var values lie outside every function,
// so gremlins calls every mutant there NOT COVERED and never runs it, even when the tests go through
// that switch or use that constant all the time. The wrapper adds a block for each such expression to
// the profile gremlins reads (caseBlocks), keeps the real profile, and afterwards a surviving mutant in
// a case whose switch the tests never reached (or in a package none of whose code ran) is NOT COVERED
// again (uncoverCases).

// caseExpr is the expression list of one case clause of an expression switch and where its switch is,
// or the values of a package-level const or var (stmt.Line == 0).
type caseExpr struct {
	file           string // base name
	from, to, stmt token.Position
}

func caseExprs(dir string, files []string) ([]caseExpr, error) {
	var out []caseExpr
	for _, name := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || (gd.Tok != token.CONST && gd.Tok != token.VAR) {
				continue
			}
			for _, spec := range gd.Specs {
				if vs := spec.(*ast.ValueSpec); len(vs.Values) > 0 {
					out = append(out, caseExpr{file: name, from: fset.Position(vs.Values[0].Pos()),
						to: fset.Position(vs.Values[len(vs.Values)-1].End())})
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if !ok {
				return true
			}
			for _, s := range sw.Body.List {
				cc := s.(*ast.CaseClause)
				if len(cc.List) == 0 {
					continue
				}
				out = append(out, caseExpr{file: name, from: fset.Position(cc.List[0].Pos()),
					to: fset.Position(cc.List[len(cc.List)-1].End()), stmt: fset.Position(sw.Pos())})
			}
			return true
		})
	}
	return out, nil
}

// caseBlocks are profile lines ("pkg/file.go:l.c,l.c 1 1") that mark every case expression covered.
func caseBlocks(pkgPath string, cases []caseExpr) string {
	var b strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&b, "%s/%s:%d.%d,%d.%d 1 1\n", pkgPath, c.file, c.from.Line, c.from.Column, c.to.Line, c.to.Column)
	}
	return b.String()
}

type block struct{ l1, c1, l2, c2 int }

func (b block) contains(line, col int) bool {
	after := line > b.l1 || (line == b.l1 && col >= b.c1)
	before := line < b.l2 || (line == b.l2 && col <= b.c2)
	return after && before
}

// coveredBlocks reads a coverage profile: the blocks that ran, by file base name (one package).
func coveredBlocks(profile []byte) map[string][]block {
	out := map[string][]block{}
	sc := bufio.NewScanner(bytes.NewReader(profile))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "mode:") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 3 || fields[2] == "0" {
			continue
		}
		var b block
		if _, err := fmt.Sscanf(fields[0], "%d.%d,%d.%d", &b.l1, &b.c1, &b.l2, &b.c2); err != nil {
			continue
		}
		base := name[strings.LastIndex(name, "/")+1:]
		out[base] = append(out[base], b)
	}
	return out
}

// uncoverCases turns LIVED mutants in case expressions whose switch never ran (package-level values:
// whose package never ran) back into NOT COVERED.
func uncoverCases(muts []Mutant, cases []caseExpr, profile []byte) {
	covered := coveredBlocks(profile)
	ran := func(file string, p token.Position) bool {
		if p.Line == 0 { // package level: reached if any code of the package ran
			for _, bs := range covered {
				if len(bs) > 0 {
					return true
				}
			}
			return false
		}
		for _, b := range covered[file] {
			if b.contains(p.Line, p.Column) {
				return true
			}
		}
		return false
	}
	for i, m := range muts {
		if m.Status != Lived {
			continue
		}
		file := pathBase(m.File)
		for _, c := range cases {
			in := block{c.from.Line, c.from.Column, c.to.Line, c.to.Column}
			if c.file == file && in.contains(m.Line, m.Column) && !ran(file, c.stmt) {
				muts[i].Status = NotCovered
			}
		}
	}
}
