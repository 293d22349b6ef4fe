package course

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodManifest = `version = 1

[[chapter]]
id = "00"
dir = "00-demo"
title = { en = "Demo", zh = "演示" }

[[exercise]]
id = "00-add"
chapter = "00"
title = { en = "Add", zh = "加法" }
package = "./00-demo/calc"
tests = "^TestAdd"
infra = []
minutes = 5
hints.en = ["one", "two", "three"]
hints.zh = ["一", "二", "三"]

[[exercise]]
id = "00-sub"
chapter = "00"
title = { en = "Sub", zh = "减法" }
package = "./00-demo/calc"
tests = "^TestSub"
infra = ["redis"]
minutes = 5
hints.en = ["one", "two", "three"]
hints.zh = ["一", "二", "三"]
`

// writeCourse makes a root with chapters/00-demo/calc and the given manifest.
func writeCourse(t *testing.T, manifest string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "chapters", "00-demo", "calc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ManifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLoadGood(t *testing.T) {
	c, err := Load(writeCourse(t, goodManifest))
	if err != nil {
		t.Fatalf("Load(good) = %v, want nil", err)
	}
	if got := len(c.Exercises()); got != 2 {
		t.Fatalf("len(Exercises()) = %d, want 2", got)
	}
	if got := c.Chapter("00").Exercises[1].Infra; len(got) != 1 || got[0] != "redis" {
		t.Errorf("00-sub infra = %v, want [redis]", got)
	}
	if got := c.Exercise("00-add").TestTimeout(); got != DefaultTimeout {
		t.Errorf("00-add TestTimeout() = %v, want the default %v", got, DefaultTimeout)
	}
	c, err = Load(writeCourse(t, strings.Replace(goodManifest, "minutes = 5", "minutes = 5\ntimeout = \"90s\"", 1)))
	if err != nil || c.Exercise("00-add").TestTimeout() != 90*time.Second {
		t.Fatalf("Load(timeout = 90s) = %v; want 00-add to time out after 90s", err)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(string) string
		wantLine  int
		wantField string
	}{
		{"unknown field", func(s string) string { return strings.Replace(s, "minutes = 5", "minutes = 5\nminuets = 5", 1) }, 16, "exercise.minuets"},
		{"syntax error", func(s string) string { return strings.Replace(s, `tests = "^TestAdd"`, `tests = "^TestAdd`, 1) }, 13, ""},
		{"bad version", func(s string) string { return strings.Replace(s, "version = 1", "version = 7", 1) }, 0, "version"},
		{"duplicate id", func(s string) string { return strings.Replace(s, `id = "00-sub"`, `id = "00-add"`, 1) }, 20, "id"},
		{"bad id format", func(s string) string { return strings.Replace(s, `id = "00-sub"`, `id = "00_Sub"`, 1) }, 20, "id"},
		{"id of another chapter", func(s string) string { return strings.Replace(s, `id = "00-sub"`, `id = "01-sub"`, 1) }, 20, "id"},
		{"undeclared chapter", func(s string) string {
			return strings.Replace(s, `chapter = "00"`+"\n"+`title = { en = "Sub"`, `chapter = "09"`+"\n"+`title = { en = "Sub"`, 1)
		}, 20, "chapter"},
		{"missing package dir", func(s string) string { return strings.Replace(s, "./00-demo/calc", "./00-demo/nope", 1) }, 9, "package"},
		{"bad regexp", func(s string) string { return strings.Replace(s, "^TestAdd", "^Test(Add", 1) }, 9, "tests"},
		{"unknown infra", func(s string) string { return strings.Replace(s, `["redis"]`, `["mongo"]`, 1) }, 20, "infra"},
		{"zero minutes", func(s string) string { return strings.Replace(s, "minutes = 5", "minutes = 0", 1) }, 9, "minutes"},
		{"timeout not a duration", func(s string) string { return strings.Replace(s, "minutes = 5", "minutes = 5\ntimeout = \"soon\"", 1) }, 16, "exercise.timeout"},
		{"timeout too long", func(s string) string { return strings.Replace(s, "minutes = 5", "minutes = 5\ntimeout = \"2h\"", 1) }, 9, "timeout"},
		{"one hint", func(s string) string {
			return strings.Replace(s, `hints.en = ["one", "two", "three"]`, `hints.en = ["one"]`, 1)
		}, 9, "hints"},
		{"unequal hints", func(s string) string {
			return strings.Replace(s, `hints.zh = ["一", "二", "三"]`, `hints.zh = ["一", "二", "三", "四"]`, 1)
		}, 9, "hints"},
		{"missing zh title", func(s string) string { return strings.Replace(s, `zh = "演示"`, `zh = ""`, 1) }, 4, "title.zh"},
		{"missing chapter dir", func(s string) string { return strings.Replace(s, `dir = "00-demo"`, `dir = "00-gone"`, 1) }, 4, "dir"},
		{"demos outside the chapter", withDemos(`["./01-other/runtime"]`), 4, "demos"},
		{"missing demos dir", withDemos(`["./00-demo/nope"]`), 4, "demos"},
		{"demos that is an exercise's package", withDemos(`["./00-demo/calc"]`), 4, "demos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeCourse(t, tt.edit(goodManifest)))
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("Load() = %v, want ErrInvalidManifest", err)
			}
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("Load() error %T, want *ManifestError", err)
			}
			p := me.Problems[0]
			if p.Line != tt.wantLine || p.Field != tt.wantField {
				t.Errorf("first problem = line %d field %q (%v), want line %d field %q", p.Line, p.Field, err, tt.wantLine, tt.wantField)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Error() = %q, want one line", err.Error())
			}
		})
	}
}

// withDemos gives the chapter of goodManifest a demos list.
func withDemos(list string) func(string) string {
	return func(s string) string {
		return strings.Replace(s, `title = { en = "Demo", zh = "演示" }`, `title = { en = "Demo", zh = "演示" }`+"\ndemos = "+list, 1)
	}
}

func TestLoadEmptyChapter(t *testing.T) {
	m := goodManifest + "\n[[chapter]]\nid = \"01\"\ndir = \"01-more\"\ntitle = { en = \"More\", zh = \"更多\" }\n"
	root := writeCourse(t, m)
	if err := os.MkdirAll(filepath.Join(root, "chapters", "01-more"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(root)
	var me *ManifestError
	if !errors.As(err, &me) || !strings.Contains(me.Problems[0].Msg, "empty chapter") {
		t.Fatalf("Load(chapter without exercises) = %v, want an empty-chapter problem", err)
	}
}

func TestResolveSuggests(t *testing.T) {
	c, err := Load(writeCourse(t, goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{"00-ad": "00-add", "00-sbu": "00-sub", "00-dem": "00-demo", "00-multiply": ""} {
		_, err := c.Resolve(target)
		var ute *UnknownTargetError
		if !errors.As(err, &ute) || ute.Suggestion != want {
			t.Errorf("Resolve(%q) = %v, want an unknown target suggesting %q", target, err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrInvalidManifest) {
		t.Fatalf("Load(no manifest) = %v, want ErrInvalidManifest", err)
	}
}

func TestResolve(t *testing.T) {
	c, err := Load(writeCourse(t, goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		target  string
		want    []string
		wantErr error
	}{
		{"", []string{"00-add", "00-sub"}, nil},
		{"00", []string{"00-add", "00-sub"}, nil},
		{"00-demo", []string{"00-add", "00-sub"}, nil},
		{"chapters/00-demo/", []string{"00-add", "00-sub"}, nil},
		{"00-sub", []string{"00-sub"}, nil},
		{"07", nil, ErrUnknownTarget},
		{"00-nope", nil, ErrUnknownTarget},
	}
	for _, tt := range tests {
		got, err := c.Resolve(tt.target)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Resolve(%q) error = %v, want %v", tt.target, err, tt.wantErr)
			continue
		}
		var ids []string
		for _, ex := range got {
			ids = append(ids, ex.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Resolve(%q) = %v, want %v", tt.target, ids, tt.want)
		}
	}
}
