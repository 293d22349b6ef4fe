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
	"watch.polling": {"Polling for changes every %s (%s): file events do not arrive here, so a save may take that long to be noticed.",
		"每 %s 轮询一次文件变化（%s）：这里收不到文件事件，保存后可能要等这么久才会检查。"},
	"watch.badInterval": {"--poll-interval %s: want a positive duration such as 1s or 500ms", "--poll-interval %s：需要一个正的时长，例如 1s 或 500ms"},

	// the UI
	"tui.dumb": {"labctl: TERM=dumb cannot show the lab's UI; here is `labctl list`. Use `labctl check`, `labctl hint` and `labctl watch` to work.",
		"labctl：TERM=dumb 无法显示界面；下面是 `labctl list` 的结果。请用 `labctl check`、`labctl hint` 和 `labctl watch` 继续。"},

	// errors
	"err.prefix":                 {"labctl: ", "labctl："},
	"err.interrupted":            {"interrupted", "已中断"},
	"err.unknown-target":         {"unknown chapter or exercise %q (try `labctl list`)", "没有名为 %q 的章节或练习（用 `labctl list` 查看）"},
	"err.unknown-target-suggest": {"unknown chapter or exercise %q (did you mean %s?)", "没有名为 %q 的章节或练习（你是想输入 %s 吗？）"},
	"err.no-go":                  {"go toolchain not found in PATH (install Go 1.26 or later: https://go.dev/dl/)", "PATH 中找不到 go 命令（请安装 Go 1.26 或更高版本：https://go.dev/dl/）"},
	"err.not-git":                {"not a git checkout with the course's history", "这里不是带有课程历史的 git 仓库：reset 需要从 git 对象恢复初始代码（请用 git clone 获取课程）"},
	"err.no-solution":            {"no solution files for this target", "这个目标没有参考答案文件"},
	"err.manifest":               {"%s", "课程清单有误：%s"},
	"err.flag-unknown":           {"unknown flag: %s", "未知参数：%s（用 --help 查看可用参数）"},
	"err.flag-argument":          {"flag needs an argument: %s", "参数 %s 需要一个值"},
	"err.flag-invalid":           {"invalid argument %q for %q flag", "参数 %[2]s 的值 %[1]q 无效"},
	"err.command-unknown":        {"unknown command %q for %q", "%[2]s 没有子命令 %[1]q（用 --help 查看）"},
	"err.args-at-most":           {"accepts at most %s arg(s), received %s", "最多接受 %s 个参数，收到 %s 个"},
	"err.args-exactly":           {"accepts %s arg(s), received %s", "需要 %s 个参数，收到 %s 个"},
	"err.lang":                   {"--lang %q: want en or zh", "--lang %q：只能是 en 或 zh"},
	"err.no-root":                {"no %s in %s or above: run labctl inside the course, or pass --root", "在 %[2]s 及其上级目录中找不到 %[1]s：请在课程目录中运行 labctl，或用 --root 指定"},
	"err.infra-up-missing":       {"the lab's servers are already up (%s), without %s: one `infra up` runs them all, so stop them and start them together: labctl infra down && labctl infra up %s", "实验的服务器已经在运行（%s），其中没有 %s：所有服务器由同一个 `infra up` 进程管理，请先停掉再一起启动：labctl infra down && labctl infra up %s"},
	"err.unknown-service":        {"unknown service %q: want mysql, redis, consul, kafka, rabbitmq, postgres, jaeger, prometheus or etcd", "未知服务 %q：可选 mysql、redis、consul、kafka、rabbitmq、postgres、jaeger、prometheus、etcd"},
	"err.reset-target":           {"reset needs a chapter or exercise, or --all (not both)", "reset 需要一个章节或练习，或者 --all（二者只能选一）"},
	"err.no-confirm":             {"refusing to change your files without confirmation: stdin is not a terminal (pass --yes)", "没有确认就不会改动你的文件：标准输入不是终端（请加 --yes）"},
	"err.tui-terminal":           {"the lab's UI needs a terminal; in scripts use `labctl list`, `labctl check` or `labctl --help`", "界面需要在终端中运行；脚本中请用 `labctl list`、`labctl check` 或 `labctl --help`"},
	"err.infra-down":             {"%s unavailable: %s", "%s 不可用，这个练习无法运行。原因：%s"},

	// list
	"list.header": {"%s  %s", "%s  %s"},
	"list.done":   {"%d/%d done", "已完成 %d/%d"},
}
