package mutate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// EquivalentsFile lists the surviving mutants that no test can kill, relative to the repository root.
const EquivalentsFile = "solutions/mutation-equivalents.toml"

// Equivalent is a mutant that behaves exactly as the solution does, so no test can tell them apart, with
// the reason in both languages. It is matched by file, operator and the solution's line, not by line
// number, so that it survives edits above it.
type Equivalent struct {
	File     string      `toml:"file"`     // relative to chapters/, as in Mutant.File
	Operator string      `toml:"operator"` // gremlins' mutator type
	Code     string      `toml:"code"`     // the solution's line, trimmed, as in Mutant.Code
	Why      course.Text `toml:"why"`
}

func (e Equivalent) matches(m Mutant) bool {
	return m.Status == Lived && m.File == e.File && m.Operator == e.Operator && m.Code == e.Code
}

// LoadEquivalents reads EquivalentsFile under root; a missing file means none.
func LoadEquivalents(root string) ([]Equivalent, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(EquivalentsFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Equivalent []Equivalent `toml:"equivalent"`
	}
	if err := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields().Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", EquivalentsFile, err)
	}
	for i, e := range doc.Equivalent {
		if e.File == "" || e.Operator == "" || e.Code == "" || strings.TrimSpace(e.Why.En) == "" || strings.TrimSpace(e.Why.Zh) == "" {
			return nil, fmt.Errorf("%s: entry %d needs file, operator, code, why.en and why.zh", EquivalentsFile, i+1)
		}
	}
	return doc.Equivalent, nil
}

// MarkEquivalent turns the lived mutants that an entry of eqs explains into Equivalent ones, and returns
// the entries that explain nothing in this report (stale after an edit, or of a part that was not run).
func (r *Report) MarkEquivalent(eqs []Equivalent) (unused []Equivalent) {
	for _, e := range eqs {
		used := false
		for _, u := range r.Units {
			for i, m := range u.Mutants {
				if e.matches(m) {
					u.Mutants[i].Status = EquivalentStatus
					u.Mutants[i].Why = &e.Why
					used = true
				}
			}
		}
		if !used {
			unused = append(unused, e)
		}
	}
	return unused
}
