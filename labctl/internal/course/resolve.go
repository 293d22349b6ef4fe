package course

import (
	"path/filepath"
	"strings"
)

// ChaptersDir is the learner's module, root/chapters.
func (c *Course) ChaptersDir() string { return filepath.Join(c.Root, "chapters") }

// SolutionsDir holds the solution overlays, root/solutions.
func (c *Course) SolutionsDir() string { return filepath.Join(c.Root, "solutions") }

// PackageDir is the absolute directory of an exercise's package.
func (c *Course) PackageDir(ex *Exercise) string {
	return filepath.Join(c.ChaptersDir(), filepath.FromSlash(strings.TrimPrefix(ex.Package, "./")))
}

// Chapter returns the chapter with this id, or nil.
func (c *Course) Chapter(id string) *Chapter {
	for _, ch := range c.Chapters {
		if ch.ID == id {
			return ch
		}
	}
	return nil
}

// Exercise returns the exercise with this id, or nil.
func (c *Course) Exercise(id string) *Exercise {
	for _, ch := range c.Chapters {
		for _, ex := range ch.Exercises {
			if ex.ID == id {
				return ex
			}
		}
	}
	return nil
}

// Exercises returns every exercise in course order.
func (c *Course) Exercises() []*Exercise {
	var out []*Exercise
	for _, ch := range c.Chapters {
		out = append(out, ch.Exercises...)
	}
	return out
}

// Resolve turns a target into exercises, in course order:
// "" is the whole course; a chapter id ("00") or directory ("00-go-for-services", "chapters/00-go-for-services/")
// is its exercises; an exercise id ("00-cancel") is that exercise.
// Anything else is an *UnknownTargetError (errors.Is ErrUnknownTarget).
func (c *Course) Resolve(target string) ([]*Exercise, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(target), "chapters/"), "/")
	t = strings.TrimPrefix(t, "./")
	if t == "" && target == "" {
		return c.Exercises(), nil
	}
	for _, ch := range c.Chapters {
		if t == ch.ID || t == ch.Dir {
			return append([]*Exercise(nil), ch.Exercises...), nil
		}
	}
	if ex := c.Exercise(t); ex != nil {
		return []*Exercise{ex}, nil
	}
	return nil, &UnknownTargetError{Target: target, Suggestion: c.closest(t)}
}

// closest is the chapter or exercise id nearest to a mistyped target, or "" when none is near: at most
// two edits away, or the only id that starts with it.
func (c *Course) closest(t string) string {
	if t == "" {
		return ""
	}
	best, bestDist := "", 3
	var prefixed []string
	for _, ch := range c.Chapters {
		for _, id := range append([]string{ch.ID, ch.Dir}, exerciseIDs(ch)...) {
			if d := editDistance(t, id); d < bestDist {
				best, bestDist = id, d
			}
			if strings.HasPrefix(id, t) {
				prefixed = append(prefixed, id)
			}
		}
	}
	if best == "" && len(prefixed) == 1 {
		return prefixed[0]
	}
	return best
}

func exerciseIDs(ch *Chapter) []string {
	ids := make([]string, 0, len(ch.Exercises))
	for _, ex := range ch.Exercises {
		ids = append(ids, ex.ID)
	}
	return ids
}

// editDistance is the Levenshtein distance between two short ids.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// ResolveChapter returns the chapter named by an id or directory, or an *UnknownTargetError.
func (c *Course) ResolveChapter(target string) (*Chapter, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(target), "chapters/"), "/")
	for _, ch := range c.Chapters {
		if t == ch.ID || t == ch.Dir {
			return ch, nil
		}
	}
	if ex := c.Exercise(t); ex != nil {
		return c.Chapter(ex.Chapter), nil
	}
	return nil, &UnknownTargetError{Target: target}
}
