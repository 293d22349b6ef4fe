package course

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ManifestName is the manifest's path relative to the repository root.
const ManifestName = "chapters/course.toml"

// SupportedVersion is the manifest schema version this labctl understands.
const SupportedVersion = 1

// manifest is the file's shape: chapters then exercises, as flat arrays of tables.
type manifest struct {
	Version  int         `toml:"version"`
	Chapter  []*Chapter  `toml:"chapter"`
	Exercise []*Exercise `toml:"exercise"`
}

// Load reads root/chapters/course.toml strictly (unknown fields are errors), validates it against the
// files on disk, and returns the course. Every failure is a *ManifestError (errors.Is ErrInvalidManifest).
func Load(root string) (*Course, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("course root %q: %w", root, err)
	}
	path := filepath.Join(abs, ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ManifestError{File: ManifestName, Problems: []Problem{{Msg: "cannot read the manifest: " + errors.Unwrap(err).Error()}}}
	}
	c, problems := Parse(data)
	if len(problems) == 0 {
		c.Root = abs
		problems = validate(c, data, os.Stat)
	}
	if len(problems) > 0 {
		return nil, &ManifestError{File: ManifestName, Problems: problems}
	}
	return c, nil
}

// Parse decodes a manifest without looking at the disk. It links each exercise to its chapter.
func Parse(data []byte) (*Course, []Problem) {
	var m manifest
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, decodeProblems(err)
	}
	c := &Course{Version: m.Version, Chapters: m.Chapter}
	var problems []Problem
	for _, ex := range m.Exercise {
		ch := c.Chapter(ex.Chapter)
		if ch == nil {
			problems = append(problems, Problem{Line: lineOfID(data, ex.ID, 1), Where: where("exercise", ex.ID),
				Field: "chapter", Msg: fmt.Sprintf("chapter %q is not declared in a [[chapter]] table", ex.Chapter)})
			continue
		}
		ch.Exercises = append(ch.Exercises, ex)
	}
	return c, problems
}

// decodeProblems turns go-toml's errors into problems with line numbers.
func decodeProblems(err error) []Problem {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var out []Problem
		for _, e := range strict.Errors {
			row, _ := e.Position()
			out = append(out, Problem{Line: row, Field: strings.Join(e.Key(), "."), Msg: "unknown field"})
		}
		return out
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		field := ""
		if k := de.Key(); len(k) > 0 {
			field = strings.Join(k, ".")
		}
		return []Problem{{Line: row, Field: field, Msg: de.Error()}}
	}
	return []Problem{{Msg: err.Error()}}
}

func where(kind, id string) string { return fmt.Sprintf("%s %q", kind, id) }

// lineOfID finds the line of the nth `id = "<id>"` in the manifest (1-based n), or 0.
func lineOfID(data []byte, id string, n int) int {
	re := regexp.MustCompile(`^\s*id\s*=\s*["']` + regexp.QuoteMeta(id) + `["']`)
	for i, line := range bytes.Split(data, []byte("\n")) {
		if re.Match(line) {
			n--
			if n == 0 {
				return i + 1
			}
		}
	}
	return 0
}
