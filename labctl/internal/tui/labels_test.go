package tui

import (
	"reflect"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

var allStatuses = []runner.Status{
	runner.StatusPass, runner.StatusFail, runner.StatusSkip, runner.StatusCompileError,
	runner.StatusInfraError, runner.StatusTimeout, runner.StatusNotRun,
}

func TestStatusBadgesAreDistinct(t *testing.T) {
	for lang, text := range dictionary {
		seen := map[string]runner.Status{}
		for _, s := range allStatuses {
			badge := ansi.Strip(statusBadge(s, text))
			if other, dup := seen[badge]; dup {
				t.Errorf("%s: statusBadge(%s) = %q, same as for %s", lang, s, badge, other)
			}
			seen[badge] = s
		}
	}
}

func TestSkippedNeverLooksPassed(t *testing.T) {
	for lang, text := range dictionary {
		pass := ansi.Strip(statusBadge(runner.StatusPass, text))
		for _, s := range []runner.Status{runner.StatusSkip, runner.StatusNotRun, ""} {
			if got := ansi.Strip(statusBadge(s, text)); got == pass {
				t.Errorf("%s: statusBadge(%q) = %q, want it unlike pass", lang, s, got)
			}
		}
	}
}

func TestUnknownStatusShownByName(t *testing.T) {
	if got, want := ansi.Strip(statusBadge("flaky", dictionary["en"])), "? flaky"; got != want {
		t.Errorf("statusBadge(flaky) = %q, want %q", got, want)
	}
}

func TestBadgesFitTheirColumn(t *testing.T) {
	for lang, text := range dictionary {
		for _, s := range allStatuses {
			if w := ansi.StringWidth(statusBadge(s, text)); w > badgeWidth {
				t.Errorf("%s: statusBadge(%s) is %d cells, want at most %d", lang, s, w, badgeWidth)
			}
		}
	}
}

// TestDictionariesComplete: every label exists in both languages, so no screen falls back to a blank.
func TestDictionariesComplete(t *testing.T) {
	for _, lang := range []string{"en", "zh"} {
		text, ok := dictionary[lang]
		if !ok {
			t.Fatalf("dictionary[%q] missing", lang)
		}
		for _, v := range []reflect.Value{reflect.ValueOf(text), reflect.ValueOf(text.Keys)} {
			for i := range v.NumField() {
				if f := v.Field(i); f.Kind() == reflect.String && f.String() == "" {
					t.Errorf("dictionary[%q].%s is empty", lang, v.Type().Field(i).Name)
				}
			}
		}
		for _, s := range allStatuses {
			if text.Status[s] == "" {
				t.Errorf("dictionary[%q].Status[%s] is empty", lang, s)
			}
		}
	}
}

func TestNormalizeLang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"en", "en"}, {"", "en"}, {"zh", "zh"}, {"zh-CN", "zh"}, {"zh_CN.UTF-8", "zh"}, {"ZH", "zh"}, {"fr", "en"},
	}
	for _, tt := range tests {
		if got := normalizeLang(tt.in); got != tt.want {
			t.Errorf("normalizeLang(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWindowKeepsHeadingAndCursor(t *testing.T) {
	rows := []string{"heading", "r1", "r2", "r3", "r4", "r5", "r6"}
	tests := []struct {
		name              string
		cursorRow, height int
		want              []string
	}{
		{"fits", 2, 10, rows},
		{"cursor at top", 1, 3, []string{"heading", "r1", "r2"}},
		{"cursor at bottom", 6, 3, []string{"heading", "r5", "r6"}},
		{"cursor in middle", 4, 4, []string{"heading", "r3", "r4", "r5"}},
		{"no room", 3, 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := window(rows, tt.cursorRow, tt.height); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("window(rows, %d, %d) = %q, want %q", tt.cursorRow, tt.height, got, tt.want)
			}
		})
	}
}

func TestFitCountsWideCharacters(t *testing.T) {
	tests := []struct {
		in   string
		w    int
		want string
	}{
		{"abc", 5, "abc  "},
		{"abcdef", 4, "abc…"},
		{"单体应用", 5, "单体…"},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		if got := fit(tt.in, tt.w); got != tt.want {
			t.Errorf("fit(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.want)
		}
	}
}
