package course

import (
	"errors"
	"fmt"
)

// ErrInvalidManifest matches (errors.Is) every error that Load returns for a manifest it cannot use.
var ErrInvalidManifest = errors.New("invalid course manifest")

// ErrUnknownTarget matches (errors.Is) the error Resolve returns for an id that names nothing.
var ErrUnknownTarget = errors.New("unknown chapter or exercise")

// Problem is one thing wrong with the manifest.
type Problem struct {
	Line  int    // 1-based line in the manifest, 0 when unknown
	Where string // `exercise "00-cancel"`, `chapter "00"` or "" for the top level
	Field string // the offending field, for example "hints.en"
	Msg   string // what is wrong, lower case
}

func (p Problem) String() string {
	s := p.Msg
	if p.Field != "" {
		s = p.Field + ": " + s
	}
	if p.Where != "" {
		s = p.Where + ": " + s
	}
	return s
}

// ManifestError lists every problem found in one manifest. Its Error is one line: the first problem,
// with its file:line, and how many more there are.
type ManifestError struct {
	File     string // the manifest path as the user should see it
	Problems []Problem
}

func (e *ManifestError) Error() string {
	if len(e.Problems) == 0 {
		return e.File + ": invalid manifest"
	}
	p := e.Problems[0]
	loc := e.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, p.Line)
	}
	s := loc + ": " + p.String()
	if n := len(e.Problems) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more problem(s))", n)
	}
	return s
}

// Is makes errors.Is(err, ErrInvalidManifest) true.
func (e *ManifestError) Is(target error) bool { return target == ErrInvalidManifest }

// UnknownTargetError names a chapter or exercise id that the manifest does not have.
type UnknownTargetError struct {
	Target     string
	Suggestion string // the closest id, when one is close enough to be a typo
}

func (e *UnknownTargetError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown chapter or exercise %q (did you mean %s?)", e.Target, e.Suggestion)
	}
	return fmt.Sprintf("unknown chapter or exercise %q (try `labctl list`)", e.Target)
}

// Is makes errors.Is(err, ErrUnknownTarget) true.
func (e *UnknownTargetError) Is(target error) bool { return target == ErrUnknownTarget }
