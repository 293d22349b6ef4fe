// Package mutate runs mutation testing (gremlins) over the reference solutions, exercise by exercise,
// and writes the report authors read to find behaviours no test pins down. It is an author tool: slow,
// outside CI, run with `make mutate` (labctl mutate --write).
package mutate

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// Unit is what one gremlins run mutates: the solution files of one package that have the same owners,
// tested by those owners' tests.
type Unit struct {
	Chapter string             // chapter id
	Dir     string             // package directory relative to chapters/, slash-separated
	Files   []string           // solution files in Dir (base names, sorted) that are mutated
	Owners  []*course.Exercise // exercises whose tests judge these files, in course order
}

// Name is "dir (owner, owner)" for progress lines.
func (u *Unit) Name() string {
	ids := make([]string, len(u.Owners))
	for i, ex := range u.Owners {
		ids[i] = ex.ID
	}
	return fmt.Sprintf("%s (%s)", u.Dir, strings.Join(ids, ", "))
}

// Plan groups the solution files (chapters/ path -> solutions/ path, as lab.SolutionFiles returns)
// into units. A file belongs to the exercises whose TODO(<id>) marker is in its starter version; a
// file without markers (a new file, or a starter with none) belongs to the exercises whose package is
// its directory. Files that no exercise owns form units without owners: they are reported, not mutated.
// Units come in course order: by chapter, then directory.
func Plan(c *course.Course, files map[string]string) ([]*Unit, error) {
	type key struct{ dir, owners string }
	units := map[key]*Unit{}
	for _, dst := range slices.Sorted(maps.Keys(files)) {
		if filepath.Ext(dst) != ".go" {
			continue
		}
		rel, err := filepath.Rel(c.ChaptersDir(), dst)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		dir := pathDir(rel)
		ch := chapterOf(c, rel)
		if ch == nil {
			return nil, fmt.Errorf("solution file %s is in no chapter", rel)
		}
		owners, err := ownersOf(c, ch, dst, dir)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(owners))
		for i, ex := range owners {
			ids[i] = ex.ID
		}
		k := key{dir, strings.Join(ids, ",")}
		u := units[k]
		if u == nil {
			u = &Unit{Chapter: ch.ID, Dir: dir, Owners: owners}
			units[k] = u
		}
		u.Files = append(u.Files, pathBase(rel))
	}
	order := map[string]int{}
	for i, ex := range c.Exercises() {
		order[ex.ID] = i
	}
	firstOwner := func(u *Unit) int {
		if len(u.Owners) == 0 {
			return len(order)
		}
		return order[u.Owners[0].ID]
	}
	out := slices.Collect(maps.Values(units))
	slices.SortFunc(out, func(a, b *Unit) int {
		return cmpFirst(strings.Compare(a.Chapter, b.Chapter), firstOwner(a)-firstOwner(b),
			strings.Compare(a.Dir, b.Dir), strings.Compare(strings.Join(a.Files, ","), strings.Join(b.Files, ",")))
	})
	return out, nil
}

func ownersOf(c *course.Course, ch *course.Chapter, starter, dir string) ([]*course.Exercise, error) {
	data, err := os.ReadFile(starter)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var marked, inPackage []*course.Exercise
	for _, ex := range ch.Exercises {
		if bytes.Contains(data, []byte("TODO("+ex.ID+")")) {
			marked = append(marked, ex)
		}
		if strings.TrimPrefix(ex.Package, "./") == dir {
			inPackage = append(inPackage, ex)
		}
	}
	if len(marked) > 0 {
		return marked, nil
	}
	return inPackage, nil
}

func chapterOf(c *course.Course, rel string) *course.Chapter {
	first, _, _ := strings.Cut(rel, "/")
	for _, ch := range c.Chapters {
		if ch.Dir == first {
			return ch
		}
	}
	return nil
}

func pathDir(rel string) string {
	i := strings.LastIndex(rel, "/")
	if i < 0 {
		return "."
	}
	return rel[:i]
}

func pathBase(rel string) string { return rel[strings.LastIndex(rel, "/")+1:] }

func cmpFirst(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// testsOf is what a unit's mutants are judged by: the owners' packages and the alternation of their
// test regexps, with the race detector when any owner needs it, and the union of their servers.
func testsOf(u *Unit) (pkgs []string, run string, race bool, infra []string) {
	var runs []string
	for _, ex := range u.Owners {
		if !slices.Contains(pkgs, ex.Package) {
			pkgs = append(pkgs, ex.Package)
		}
		runs = append(runs, ex.Tests)
		race = race || ex.Race
		for _, s := range ex.Infra {
			if !slices.Contains(infra, s) {
				infra = append(infra, s)
			}
		}
	}
	slices.Sort(pkgs)
	slices.Sort(infra)
	if len(runs) == 1 {
		return pkgs, runs[0], race, infra
	}
	for i, r := range runs {
		runs[i] = "(" + r + ")"
	}
	return pkgs, strings.Join(runs, "|"), race, infra
}
