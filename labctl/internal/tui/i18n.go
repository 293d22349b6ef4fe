package tui

import (
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// labels are the UI's own words in one language. Course content (titles, hints, lessons) comes from the manifest.
type labels struct {
	Title, Chapters, Exercises, Lesson, Hint, Output, Results, CompileErrors        string
	NotChecked, CheckedBefore, Checking, Cancelling, Cancelled, CancelHint, Changed string
	WatchOn, WatchOff, Loading, NoExercises, CheckFailed, HintFailed                string
	LessonFailed, WatchFailed, SolutionDiff, DiffFailed, SameAsSolution             string
	ConfirmDiff                                                                     string // %s is the exercise id
	StepInfra, StepCompile, StepTest, Seconds                                       string // %s is the service, chapters, test; %d seconds
	StaleNote                                                                       string // %s is the status before the cancelled check
	TooSmall                                                                        string // %d×%d now, %d×%d needed
	Status                                                                          map[runner.Status]string
	Keys                                                                            keyLabels
}

// keyLabels are the help bar's descriptions.
type keyLabels struct {
	Up, Down, PrevChapter, NextChapter, Check, CheckChapter, Hint, Lesson string
	Diff, Watch, Cancel, Back, Scroll, More, Less, Quit                   string
}

var dictionary = map[string]labels{
	"en": {
		Title: "labctl · Go microservices lab", Chapters: "Chapters", Exercises: "Exercises",
		Lesson: "Lesson", Hint: "Hint", Output: "Output", Results: "Results", CompileErrors: "Compile errors",
		NotChecked: "Not checked yet. Press enter to check.", CheckedBefore: "Status from an earlier check. Press enter to check again.", Checking: "Checking", Cancelling: "Cancelling…",
		Cancelled: "Check cancelled.", CancelHint: "esc to cancel", Changed: "changed",
		WatchOn: "watch: on", WatchOff: "watch: off", Loading: "Loading…", NoExercises: "This course has no exercises.",
		CheckFailed: "check failed", HintFailed: "no hint", LessonFailed: "no lesson", WatchFailed: "watch failed",
		SolutionDiff: "Solution diff", DiffFailed: "no solution diff", SameAsSolution: "Your files match the solution.",
		ConfirmDiff: "You haven't passed %s yet. Show the solution anyway? y/N",
		StepInfra:   "starting %s …", StepCompile: "compiling %s …", StepTest: "running %s …", Seconds: "%d s",
		StaleNote: "The last check was cancelled before this exercise finished, so its status from before (%s) may be out of date. Press enter to check again.",
		TooSmall:  "Terminal too small (%d×%d): the lab needs at least %d×%d. Enlarge the window, or use `labctl list` and `labctl check`.",
		Status: map[runner.Status]string{
			runner.StatusPass: "passed", runner.StatusFail: "failed", runner.StatusCompileError: "compile error",
			runner.StatusInfraError: "infra error", runner.StatusTimeout: "timed out", runner.StatusSkip: "skipped",
			runner.StatusNotRun: "not run", runner.StatusModified: "passed on modified tests", statusStale: "stale",
		},
		Keys: keyLabels{
			Up: "up", Down: "down", PrevChapter: "prev chapter", NextChapter: "next chapter", Check: "check",
			CheckChapter: "check chapter", Hint: "hint", Lesson: "lesson", Diff: "solution diff", Watch: "watch", Cancel: "cancel",
			Back: "back", Scroll: "scroll", More: "more", Less: "less", Quit: "quit",
		},
	},
	"zh": {
		Title: "labctl · Go 微服务实验室", Chapters: "章节", Exercises: "练习",
		Lesson: "课文", Hint: "提示", Output: "输出", Results: "结果", CompileErrors: "编译错误",
		NotChecked: "尚未检查。按 enter 开始检查。", CheckedBefore: "这是之前一次检查的结果。按 enter 重新检查。", Checking: "正在检查", Cancelling: "正在取消…",
		Cancelled: "检查已取消。", CancelHint: "按 esc 取消", Changed: "已修改",
		WatchOn: "监视：开", WatchOff: "监视：关", Loading: "加载中…", NoExercises: "本课程没有练习。",
		CheckFailed: "检查出错", HintFailed: "没有提示", LessonFailed: "没有课文", WatchFailed: "监视出错",
		SolutionDiff: "与答案对比", DiffFailed: "无法与答案对比", SameAsSolution: "你的文件与答案一致。",
		ConfirmDiff: "你还没有通过 %s。仍要查看答案吗？y/N",
		StepInfra:   "正在启动 %s …", StepCompile: "正在编译 %s …", StepTest: "正在运行 %s …", Seconds: "%d 秒",
		StaleNote: "上一次检查在本练习完成前被取消，之前的状态（%s）可能已过时。按 enter 重新检查。",
		TooSmall:  "终端太小（%d×%d）：至少需要 %d×%d。请放大窗口，或使用 `labctl list` 和 `labctl check`。",
		Status: map[runner.Status]string{
			runner.StatusPass: "通过", runner.StatusFail: "失败", runner.StatusCompileError: "编译错误",
			runner.StatusInfraError: "基础设施错误", runner.StatusTimeout: "超时", runner.StatusSkip: "已跳过",
			runner.StatusNotRun: "未运行", runner.StatusModified: "在被改动的测试上通过", statusStale: "已过时",
		},
		Keys: keyLabels{
			Up: "上移", Down: "下移", PrevChapter: "上一章", NextChapter: "下一章", Check: "检查",
			CheckChapter: "检查本章", Hint: "提示", Lesson: "课文", Diff: "与答案对比", Watch: "监视", Cancel: "取消",
			Back: "返回", Scroll: "滚动", More: "更多", Less: "收起", Quit: "退出",
		},
	},
}

// normalizeLang maps "zh", "zh-CN", "zh_CN.UTF-8" to "zh" and everything else to "en".
func normalizeLang(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return "zh"
	}
	return "en"
}

// pick returns the text in lang, falling back to English when the translation is missing.
func pick(t course.Text, lang string) string {
	if lang == "zh" && t.Zh != "" {
		return t.Zh
	}
	return t.En
}
