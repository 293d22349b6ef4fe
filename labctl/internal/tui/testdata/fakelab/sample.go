package fakelab

import (
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

func sampleCourse() *course.Course {
	ex := func(id, ch, en, zh string, hints ...string) *course.Exercise {
		e := &course.Exercise{ID: id, Chapter: ch, Title: course.Text{En: en, Zh: zh}, Tests: "^Test"}
		for i := 0; i+1 < len(hints); i += 2 {
			e.Hints.En = append(e.Hints.En, hints[i])
			e.Hints.Zh = append(e.Hints.Zh, hints[i+1])
		}
		return e
	}
	ch0 := &course.Chapter{ID: "00", Dir: "00-go-for-services", Title: course.Text{En: "Go for services", Zh: "面向服务的 Go"},
		Exercises: []*course.Exercise{
			ex("00-cancel", "00", "Cancel work with context", "用 context 取消工作"),
			ex("00-pool", "00", "Bounded worker pool", "有界工作池",
				"Use a buffered channel as a semaphore of size N.", "用容量为 N 的带缓冲 channel 作为信号量。",
				"Write each result at its input index, not in completion order.", "按输入下标写入结果，而不是按完成顺序。"),
			ex("00-errgroup", "00", "Fan-out with errgroup", "用 errgroup 扇出",
				"errgroup.WithContext cancels the siblings on the first error.", "errgroup.WithContext 会在第一个错误时取消其他任务。",
				"Return ctx.Err() from workers that see ctx.Done().", "看到 ctx.Done() 的任务应返回 ctx.Err()。"),
		}}
	ch1 := &course.Chapter{ID: "01", Dir: "01-monolith", Title: course.Text{En: "Monolith (Gin)", Zh: "单体应用（Gin）"},
		Exercises: []*course.Exercise{
			ex("01-api", "01", "JSON API with validation", "带校验的 JSON API"),
			ex("01-stock-race", "01", "Last unit of stock", "最后一件库存"),
			ex("01-idempotency", "01", "Idempotency key", "幂等键"),
			ex("01-acceptance", "01", "Acceptance suite", "验收测试"),
		}}
	return &course.Course{Version: 1, Chapters: []*course.Chapter{ch0, ch1}, Root: "/nonexistent"}
}

func sampleStatuses() map[string]runner.Status {
	return map[string]runner.Status{
		"00-cancel":      runner.StatusPass,
		"00-pool":        runner.StatusFail,
		"01-api":         runner.StatusSkip,
		"01-stock-race":  runner.StatusCompileError,
		"01-idempotency": runner.StatusInfraError,
		"01-acceptance":  runner.StatusTimeout,
	}
}

func sampleResults() map[string]runner.ExerciseResult {
	return map[string]runner.ExerciseResult{
		"00-pool": {ExerciseID: "00-pool", Status: runner.StatusFail, Tests: []runner.TestResult{
			{Name: "TestPoolBound", Status: runner.StatusPass, Elapsed: 10 * time.Millisecond},
			{Name: "TestPoolOrder", Status: runner.StatusFail, Elapsed: 20 * time.Millisecond,
				Message: "pool_test.go:31: Run(jobs) = [2 1 3], want [1 2 3] (results in input order)"},
		}},
		"00-errgroup": {ExerciseID: "00-errgroup", Status: runner.StatusNoTests, Message: `no test matches "^TestFanout"`},
		"01-stock-race": {ExerciseID: "01-stock-race", Status: runner.StatusCompileError,
			CompileErrors: []runner.CompileError{{File: "01-monolith/store/order.go", Line: 42, Col: 9, Message: "undefined: tx"}}},
	}
}

func sampleEvents() map[string][]runner.Event {
	out := func(test, line string) runner.Event {
		return runner.Event{Package: "example/00-go-for-services/pool", Test: test, Action: "output", Output: line + "\n"}
	}
	return map[string][]runner.Event{
		"00-pool": {
			out("TestPoolBound", "=== RUN   TestPoolBound"),
			out("TestPoolBound", "--- PASS: TestPoolBound (0.01s)"),
			out("TestPoolOrder", "=== RUN   TestPoolOrder"),
			out("TestPoolOrder", "    pool_test.go:31: Run(jobs) = [2 1 3], want [1 2 3] (results in input order)"),
			out("TestPoolOrder", "--- FAIL: TestPoolOrder (0.02s)"),
		},
	}
}

func sampleLessons() map[string]string {
	return map[string]string{
		"00/en": "# Go for services\n\nYou will cancel work with **context**, bound a worker pool and fan out with errgroup.\n\n" +
			"## Exercises\n\n1. `00-cancel`: stop goroutines when the deadline passes.\n2. `00-pool`: at most N in flight, results in input order.\n",
		"00/zh": "# 面向服务的 Go\n\n你将用 **context** 取消工作、限制工作池并用 errgroup 扇出。\n\n" +
			"## 练习\n\n1. `00-cancel`：截止时间一到就停止 goroutine。\n2. `00-pool`：最多 N 个并发，结果按输入顺序返回。\n",
		"01/en": "# Monolith\n\nA Gin JSON API for users, orders and payments.\n",
		"01/zh": "# 单体应用\n\n用户、订单和支付的 Gin JSON API。\n",
	}
}

// sampleDiffs are udiff-style diffs learner -> solution: 00-cancel passed with its own approach,
// 00-pool still has its TODO.
func sampleDiffs() map[string]string {
	return map[string]string{
		"00-cancel": "--- chapters/00-go-for-services/cancel/cancel.go\n" +
			"+++ solutions/00-go-for-services/cancel/cancel.go\n" +
			"@@ -9,7 +9,9 @@\n" +
			" func Process(ctx context.Context, items []Item) error {\n" +
			" \tfor _, it := range items {\n" +
			"-\t\tif ctx.Err() != nil {\n" +
			"-\t\t\treturn ctx.Err()\n" +
			"+\t\tselect {\n" +
			"+\t\tcase <-ctx.Done():\n" +
			"+\t\t\treturn fmt.Errorf(\"process %s: %w\", it.ID, ctx.Err())\n" +
			"+\t\tdefault:\n" +
			" \t\t}\n" +
			" \t\thandle(it)\n" +
			" \t}\n",
		"00-pool": "--- chapters/00-go-for-services/pool/pool.go\n" +
			"+++ solutions/00-go-for-services/pool/pool.go\n" +
			"@@ -12,1 +12,2 @@\n" +
			"-\t// TODO(00-pool): run at most n jobs at once.\n" +
			"+\tsem := make(chan struct{}, n)\n" +
			"+\tresults := make([]Result, len(jobs))\n",
	}
}
