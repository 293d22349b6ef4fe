package verify

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// todoMarker is how starters mark holes: TODO(NN-name).
var todoMarker = regexp.MustCompile(`TODO\(([^)]*)\)`)

// checkFiles: every TODO(id) in the chapter names one of its exercises, and the solutions hold no
// tests and no TODO markers.
func checkFiles(l *lab.Lab, ch *course.Chapter) ([]Problem, error) {
	var ps []Problem
	c := l.Course()
	err := walkGo(filepath.Join(c.ChaptersDir(), ch.Dir), func(path string) error {
		return eachTODO(path, func(line int, id string) {
			if ex := c.Exercise(id); ex == nil || ex.Chapter != ch.ID {
				ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("%s:%d: TODO(%s) names no exercise of this chapter", rel(l, path), line, id)})
			}
		})
	})
	if err != nil {
		return nil, err
	}
	err = walkGo(filepath.Join(c.SolutionsDir(), ch.Dir), func(path string) error {
		if strings.HasSuffix(path, "_test.go") {
			ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("%s: solutions never contain tests (tests live once, in chapters/)", rel(l, path))})
		}
		return eachTODO(path, func(line int, id string) {
			ps = append(ps, Problem{Chapter: ch.ID, Msg: fmt.Sprintf("%s:%d: the solution still has TODO(%s)", rel(l, path), line, id)})
		})
	})
	return ps, err
}

// walkGo calls fn for every .go file under dir (a missing dir has none).
func walkGo(dir string, fn func(path string) error) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			return fn(path)
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

func eachTODO(path string, fn func(line int, id string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		for _, m := range todoMarker.FindAllStringSubmatch(sc.Text(), -1) {
			fn(n, m[1])
		}
	}
	return sc.Err()
}

func rel(l *lab.Lab, path string) string {
	r, err := filepath.Rel(l.Root(), path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(r)
}
