package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
)

// englishWords is three English words in a row: a sentence, which a Chinese learner must not get.
// Commands in backticks and the providers' own reasons are allowed (see the cases).
var englishWords = regexp.MustCompile(`[A-Za-z]{2,} [A-Za-z]{2,} [A-Za-z]{2,}`)

// TestErrorsInChinese: with --lang zh (or LANG=zh_CN.UTF-8), the common errors are in Chinese, with no
// English sentence left in them.
func TestErrorsInChinese(t *testing.T) {
	needRedis := func(t *testing.T, root string) {
		labtest.Write(t, root, "chapters/course.toml", strings.Replace(labtest.Read(t, root, "chapters/course.toml"),
			"tests = \"^TestGreet$\"\ninfra = []", "tests = \"^TestGreet$\"\ninfra = [\"redis\"]", 1))
		t.Setenv("LAB_INFRA", "redis=env") // and no LAB_REDIS_ADDR: redis cannot start
		t.Setenv("LAB_REDIS_ADDR", "")
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, root string)
		args     []string
		wantCode int
		want     string // in stdout or stderr
		leak     string // the English this replaces, which must not appear
	}{
		{"unknown exercise", nil, []string{"--lang", "zh", "check", "00-nope"}, ExitBadInput, `没有名为 "00-nope" 的章节或练习`, "unknown chapter"},
		{"typo", nil, []string{"--lang", "zh", "hint", "00-ad"}, ExitBadInput, "你是想输入 00-add 吗", "did you mean"},
		{"bad flag", nil, []string{"--lang", "zh", "check", "--frobnicate"}, ExitBadInput, "未知参数：--frobnicate", "unknown flag"},
		{"bad flag before --lang", nil, []string{"check", "--frobnicate", "--lang", "zh"}, ExitBadInput, "未知参数：--frobnicate", "unknown flag"},
		{"bad flag value", nil, []string{"--lang", "zh", "check", "--solution=maybe"}, ExitBadInput, `参数 --solution 的值 "maybe" 无效`, "invalid argument"},
		{"unknown command", nil, []string{"--lang", "zh", "infra", "bogus"}, ExitBadInput, `没有子命令 "bogus"`, "unknown command"},
		{"too many arguments", nil, []string{"--lang", "zh", "watch", "00", "01"}, ExitBadInput, "最多接受 1 个参数", "accepts at most"},
		{"LANG selects Chinese", func(t *testing.T, _ string) { t.Setenv("LANG", "zh_CN.UTF-8") }, []string{"hint", "00-nope"}, ExitBadInput, "没有名为", "unknown chapter"},
		{"no confirmation", nil, []string{"--lang", "zh", "reset", "00"}, ExitBadInput, "没有确认就不会改动你的文件", "refusing"},
		{"no go", func(t *testing.T, _ string) { t.Setenv("PATH", t.TempDir()) }, []string{"--lang", "zh", "check", "00-add"}, ExitInfra, "PATH 中找不到 go 命令", "toolchain not found"},
		{"missing infra", needRedis, []string{"--lang", "zh", "check", "00-greet"}, ExitInfra, "redis 不可用，这个练习无法运行", "infrastructure unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LC_ALL", "")
			t.Setenv("LC_MESSAGES", "")
			t.Setenv("LANG", "")
			root := labtest.Course(t)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append([]string{"--root", root}, tt.args...), strings.NewReader(""), &out, &errOut)
			got := out.String() + errOut.String()
			if code != tt.wantCode {
				t.Errorf("labctl %v = %d, want %d (output %q)", tt.args, code, tt.wantCode, got)
			}
			if !strings.Contains(got, tt.want) || strings.Contains(got, tt.leak) {
				t.Errorf("labctl %v printed %q, want %q and not the English %q", tt.args, got, tt.want, tt.leak)
			}
			if tt.name == "missing infra" {
				return // the providers' reason and fix ("apt-get install redis-server") stay as infra words them
			}
			if w := englishWords.FindString(withoutCommands(errOut.String())); w != "" {
				t.Errorf("stderr %q has English %q", errOut.String(), w)
			}
		})
	}
}

// withoutCommands drops `command` spans and URLs, which are the same in every language.
func withoutCommands(s string) string {
	s = regexp.MustCompile("`[^`]*`").ReplaceAllString(s, "")
	return regexp.MustCompile(`https?://\S+`).ReplaceAllString(s, "")
}
