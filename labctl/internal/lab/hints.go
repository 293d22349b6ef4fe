package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/progress"
)

// NextHint reveals the exercise's next hint and returns it with its 1-based index and the total.
// Once all are revealed it returns the last one again. The count survives restarts (progress file).
func (l *Lab) NextHint(exerciseID string) (index, total int, hint course.Text, err error) {
	ex := l.course.Exercise(exerciseID)
	if ex == nil {
		return 0, 0, course.Text{}, &course.UnknownTargetError{Target: exerciseID}
	}
	total = min(len(ex.Hints.En), len(ex.Hints.Zh))
	if total == 0 {
		return 0, 0, course.Text{}, fmt.Errorf("exercise %s has no hints", exerciseID)
	}
	l.progress.Update(exerciseID, func(e *progress.Entry) {
		e.HintsRevealed = min(e.HintsRevealed+1, total)
		index = e.HintsRevealed
	})
	if err := l.progress.Save(); err != nil {
		return 0, 0, course.Text{}, err
	}
	return index, total, course.Text{En: ex.Hints.En[index-1], Zh: ex.Hints.Zh[index-1]}, nil
}

// RevealedHints returns the hints revealed so far, in order.
func (l *Lab) RevealedHints(exerciseID string) []course.Text {
	ex := l.course.Exercise(exerciseID)
	if ex == nil {
		return nil
	}
	n := min(l.progress.Get(exerciseID).HintsRevealed, len(ex.Hints.En), len(ex.Hints.Zh))
	out := make([]course.Text, 0, n)
	for i := range n {
		out = append(out, course.Text{En: ex.Hints.En[i], Zh: ex.Hints.Zh[i]})
	}
	return out
}

// Lesson returns the chapter's README in lang ("zh" reads README.zh-CN.md, falling back to English).
func (l *Lab) Lesson(chapterID, lang string) (markdown string, err error) {
	ch, err := l.course.ResolveChapter(chapterID)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(l.course.ChaptersDir(), ch.Dir)
	names := []string{"README.md"}
	if lang == "zh" {
		names = []string{"README.zh-CN.md", "README.md"}
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			return string(data), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read lesson: %w", err)
		}
	}
	return "", fmt.Errorf("chapter %s has no README.md: %w", ch.ID, fs.ErrNotExist)
}
