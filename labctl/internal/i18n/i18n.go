// Package i18n holds labctl's CLI messages in English and Simplified Chinese.
package i18n

import (
	"fmt"
	"strings"
)

// Lang picks the language from an explicit flag value, else from LC_ALL, LC_MESSAGES or LANG (values
// passed in by the caller): anything starting with "zh" is Chinese, everything else English.
func Lang(flag string, env ...string) string {
	for _, v := range append([]string{flag}, env...) {
		if v == "" || v == "C" || v == "POSIX" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(v), "zh") {
			return "zh"
		}
		return "en"
	}
	return "en"
}

// T formats the message key in lang, falling back to English, then to the bare key.
func T(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key // a missing message shows its key, which a test catches
	}
	f := m.en
	if lang == "zh" && m.zh != "" {
		f = m.zh
	}
	return fmt.Sprintf(f, args...)
}

type msg struct{ en, zh string }

var messages = map[string]msg{
	// statuses
	"status.pass":          {"PASS", "通过"},
	"status.fail":          {"FAIL", "失败"},
	"status.skip":          {"SKIP", "跳过"},
	"status.pass-modified": {"MODIFIED", "测试被改动"},
	"status.compile-error": {"BUILD", "编译错误"},
	"status.infra-error":   {"INFRA", "基础设施"},
	"status.timeout":       {"TIMEOUT", "超时"},
	"status.not-run":       {"—", "—"},
	"status.no-tests":      {"NO TESTS", "无测试"},

	// check
	"check.summary":     {"%d of %d exercises pass.", "%d / %d 个练习通过。"},
	"check.all":         {"All checks pass.", "全部检查通过。"},
	"check.infra":       {"Some checks could not run: infrastructure unavailable. Run `labctl doctor`.", "部分检查无法运行：基础设施不可用。请运行 `labctl doctor`。"},
	"check.solution":    {"(checked with the solution overlay; your files are untouched)", "（使用参考答案覆盖层检查；你的文件未改动）"},
	"check.skipped":     {"a skipped test is not a pass", "跳过的测试不算通过"},
	"check.compile":     {"does not compile:", "无法编译："},
	"check.interrupted": {"interrupted; unfinished exercises are not run", "已中断；未完成的练习视为未运行"},

	// progress of a check, on stderr
	"progress.infra":   {"starting %s …", "正在启动 %s …"},
	"progress.compile": {"compiling %s …", "正在编译 %s …"},
	"progress.test":    {"running %s (%s) …", "正在运行 %s（%s）…"},
	"progress.elapsed": {"%d s", "%d 秒"},

	// hint
	"hint.title": {"Hint %d/%d for %s:", "%[3]s 的提示 %[1]d/%[2]d："},
	"hint.last":  {"(that was the last hint; `labctl solution %s --diff` shows the answer)", "（这是最后一条提示；`labctl solution %s --diff` 可查看答案）"},

	// reset and solution
	"backup.where":       {"Your previous files are saved in %s", "你之前的文件已备份到 %s"},
	"written":            {"wrote %s", "已写入 %s"},
	"nothing.changed":    {"Nothing to change: the files are already the same.", "无需更改：文件已经相同。"},
	"reset.confirm":      {"Reset %s to the starter code? Your files are backed up first. [y/N] ", "将 %s 重置为初始代码？会先备份你的文件。[y/N] "},
	"reset.cancelled":    {"Reset cancelled.", "已取消重置。"},
	"solution.applied":   {"Solution applied to %s.", "已将参考答案应用到 %s。"},
	"shared.files":       {"%s shares files with %s: this changes their holes too.", "%s 与 %s 共用文件：这一步也会改动它们的空位。"},
	"solution.confirm":   {"Apply the solution of %s? Your files are backed up first. [y/N] ", "应用 %s 的参考答案？会先备份你的文件。[y/N] "},
	"solution.cancelled": {"Nothing applied.", "未应用任何改动。"},
	"diff.same":          {"Your files match the solution.", "你的文件与参考答案一致。"},

	// watch
	"watch.start":   {"Watching %s; save a file to check, Ctrl-C to stop.", "正在监视 %s；保存文件即检查，Ctrl-C 退出。"},
	"watch.changed": {"changed: %s", "已修改：%s"},

	// the UI
	"tui.dumb": {"labctl: TERM=dumb cannot show the lab's UI; here is `labctl list`. Use `labctl check`, `labctl hint` and `labctl watch` to work.",
		"labctl：TERM=dumb 无法显示界面；下面是 `labctl list` 的结果。请用 `labctl check`、`labctl hint` 和 `labctl watch` 继续。"},

	// list
	"list.header": {"%s  %s", "%s  %s"},
	"list.done":   {"%d/%d done", "已完成 %d/%d"},
}
