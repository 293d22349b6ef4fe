package course

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// KnownInfra lists the infra values an exercise may name.
var KnownInfra = []string{"mysql", "redis", "consul", "kafka", "rabbitmq", "postgres", "jaeger", "prometheus", "etcd"}

var (
	chapterIDPattern  = regexp.MustCompile(`^[0-9]{2}$`)
	exerciseIDPattern = regexp.MustCompile(`^([0-9]{2})-[a-z0-9]+(-[a-z0-9]+)*$`)
)

// MinHints is the least number of hints an exercise has in each language.
const MinHints = 2

type statFunc func(string) (fs.FileInfo, error)

// validate checks the decoded manifest against its rules and the files under c.Root.
func validate(c *Course, data []byte, stat statFunc) []Problem {
	var ps []Problem
	add := func(line int, w, field, format string, args ...any) {
		ps = append(ps, Problem{Line: line, Where: w, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.Version != SupportedVersion {
		add(0, "", "version", "is %d, this labctl reads version %d", c.Version, SupportedVersion)
	}
	seen := map[string]int{}
	for _, ch := range c.Chapters {
		seen[ch.ID]++
		line, w := lineOfID(data, ch.ID, seen[ch.ID]), where("chapter", ch.ID)
		if seen[ch.ID] > 1 {
			add(line, w, "id", "duplicate id")
		}
		if !chapterIDPattern.MatchString(ch.ID) {
			add(line, w, "id", "must be two digits, like \"03\"")
		}
		if !strings.HasPrefix(ch.Dir, ch.ID+"-") || strings.ContainsAny(ch.Dir, `/\`) {
			add(line, w, "dir", "%q must be a directory name that starts with %q", ch.Dir, ch.ID+"-")
		} else if fi, err := stat(filepath.Join(c.ChaptersDir(), ch.Dir)); err != nil || !fi.IsDir() {
			add(line, w, "dir", "directory chapters/%s does not exist", ch.Dir)
		}
		ps = append(ps, textProblems(line, w, "title", ch.Title)...)
		for _, d := range ch.Demos {
			if !strings.HasPrefix(d, "./"+ch.Dir+"/") {
				add(line, w, "demos", "%q must be a path under ./%s/", d, ch.Dir)
			} else if fi, err := stat(filepath.Join(c.ChaptersDir(), filepath.FromSlash(d))); err != nil || !fi.IsDir() {
				add(line, w, "demos", "directory chapters/%s does not exist", strings.TrimPrefix(d, "./"))
			}
			for _, ex := range ch.Exercises {
				if ex.Package == d {
					add(line, w, "demos", "%q is also the package of exercise %s: a package holds exercises or demonstrations, not both", d, ex.ID)
				}
			}
		}
		if len(ch.Exercises) == 0 {
			add(line, w, "", "empty chapter: no [[exercise]] names chapter %q", ch.ID)
		}
		for _, ex := range ch.Exercises {
			seen[ex.ID]++
			ps = append(ps, exerciseProblems(c, ch, ex, lineOfID(data, ex.ID, seen[ex.ID]), seen[ex.ID] > 1, stat)...)
		}
	}
	return ps
}

func exerciseProblems(c *Course, ch *Chapter, ex *Exercise, line int, dup bool, stat statFunc) []Problem {
	var ps []Problem
	w := where("exercise", ex.ID)
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Line: line, Where: w, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if dup {
		add("id", "duplicate id")
	}
	if m := exerciseIDPattern.FindStringSubmatch(ex.ID); m == nil {
		add("id", "must look like \"NN-name\" (lower case, digits and dashes)")
	} else if m[1] != ch.ID {
		add("id", "starts with %q but the exercise is in chapter %q", m[1], ch.ID)
	}
	ps = append(ps, textProblems(line, w, "title", ex.Title)...)
	if !strings.HasPrefix(ex.Package, "./"+ch.Dir+"/") && ex.Package != "./"+ch.Dir {
		add("package", "%q must be a path under ./%s/", ex.Package, ch.Dir)
	} else if fi, err := stat(c.PackageDir(ex)); err != nil || !fi.IsDir() {
		add("package", "directory chapters/%s does not exist", strings.TrimPrefix(ex.Package, "./"))
	}
	if ex.Tests == "" {
		add("tests", "is empty; give a -run regexp such as \"^TestCancel\"")
	} else if strings.Contains(ex.Tests, "/") {
		add("tests", "%q contains '/', but a pattern selects top-level tests only", ex.Tests)
	} else if _, err := regexp.Compile(ex.Tests); err != nil {
		add("tests", "does not compile: %v", err)
	}
	for _, in := range ex.Infra {
		if !slices.Contains(KnownInfra, in) {
			add("infra", "unknown service %q (known: %s)", in, strings.Join(KnownInfra, ", "))
		}
	}
	if ex.Minutes <= 0 {
		add("minutes", "must be more than 0")
	}
	if t := time.Duration(ex.Timeout); t < 0 || t > 30*time.Minute {
		add("timeout", "%v is out of range (0 for the default %v, at most 30m)", t, DefaultTimeout)
	}
	if len(ex.Hints.En) < MinHints || len(ex.Hints.Zh) < MinHints {
		add("hints", "needs at least %d hints in each language (en has %d, zh has %d)", MinHints, len(ex.Hints.En), len(ex.Hints.Zh))
	} else if len(ex.Hints.En) != len(ex.Hints.Zh) {
		add("hints", "en has %d hints but zh has %d; give the same hints in both languages", len(ex.Hints.En), len(ex.Hints.Zh))
	}
	for i, h := range append(slices.Clone(ex.Hints.En), ex.Hints.Zh...) {
		if strings.TrimSpace(h) == "" {
			add("hints", "hint %d is empty", i+1)
		}
	}
	return ps
}

func textProblems(line int, w, field string, t Text) []Problem {
	var ps []Problem
	if strings.TrimSpace(t.En) == "" {
		ps = append(ps, Problem{Line: line, Where: w, Field: field + ".en", Msg: "is missing"})
	}
	if strings.TrimSpace(t.Zh) == "" {
		ps = append(ps, Problem{Line: line, Where: w, Field: field + ".zh", Msg: "is missing"})
	}
	return ps
}
