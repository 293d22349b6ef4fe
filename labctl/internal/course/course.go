// Package course loads and validates the course manifest (chapters/course.toml) and resolves ids.
package course

import (
	"fmt"
	"time"
)

// Text is a string in the two languages of the course.
type Text struct {
	En string `toml:"en"`
	Zh string `toml:"zh"`
}

// Hints are the progressive hints of an exercise, in both languages.
type Hints struct {
	En []string `toml:"en"`
	Zh []string `toml:"zh"`
}

// Chapter is one chapter directory under chapters/.
type Chapter struct {
	ID    string `toml:"id"`  // "00"
	Dir   string `toml:"dir"` // "00-go-for-services", relative to chapters/
	Title Text   `toml:"title"`
	// Demos are packages ("./00-go-for-services/runtime", relative to chapters/) of demonstrations the lesson
	// points at: runnable tests that belong to no exercise. The course verification runs them and wants them
	// to pass; labctl check leaves them out.
	Demos     []string    `toml:"demos"`
	Exercises []*Exercise `toml:"-"` // filled from the [[exercise]] entries, in order
}

// Exercise is one checkable unit: the top-level tests of Package whose names match Tests.
type Exercise struct {
	ID      string   `toml:"id"`      // "00-cancel"
	Chapter string   `toml:"chapter"` // "00"
	Title   Text     `toml:"title"`
	Package string   `toml:"package"` // "./00-go-for-services/cancel", relative to chapters/
	Tests   string   `toml:"tests"`   // go test -run regexp
	Infra   []string `toml:"infra"`   // "mysql", "redis", "consul", "kafka", "rabbitmq", "postgres", "jaeger", "prometheus", "etcd"
	Minutes int      `toml:"minutes"`
	Race    bool     `toml:"race"` // run the package under the race detector (go test -race; needs cgo)
	// Timeout bounds the exercise's tests ("90s", "5m"); empty means DefaultTimeout. A deadlock then
	// says "timed out in TestX" after this long instead of go's ten silent minutes.
	Timeout Duration `toml:"timeout"`
	Hints   Hints    `toml:"hints"`
}

// DefaultTimeout is an exercise's test timeout when the manifest gives none.
const DefaultTimeout = 2 * time.Minute

// TestTimeout is how long the exercise's tests may run.
func (ex *Exercise) TestTimeout() time.Duration {
	if ex.Timeout > 0 {
		return time.Duration(ex.Timeout)
	}
	return DefaultTimeout
}

// Duration is a time.Duration written as a string in the manifest ("90s").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"90s\" or \"5m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// Course is the validated manifest plus where it lives on disk.
type Course struct {
	Version  int        `toml:"version"`
	Chapters []*Chapter `toml:"chapter"`
	// Root is the repository root; ChaptersDir and SolutionsDir are derived from it.
	Root string `toml:"-"`
}
