package lab

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
)

// BenchmarkCheckVsGoTest measures what `labctl check` adds to plain `go test` of the same packages,
// both with a warm build cache, side by side in one loop so that machine noise hits both alike.
// The check/gotest metric is the ratio (1.0 = no overhead).
func BenchmarkCheckVsGoTest(b *testing.B) {
	root := labtest.Course(b)
	l, err := Open(root)
	if err != nil {
		b.Fatal(err)
	}
	exercises, err := l.Resolve("")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	goTest := func() {
		cmd := exec.CommandContext(ctx, "go", "test", "./00-demo/...")
		cmd.Dir = filepath.Join(root, "chapters")
		_ = cmd.Run() // the starter fails: exit status 1 is expected
	}
	check := func() {
		if _, err := l.Check(ctx, exercises, CheckOptions{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	check() // warm the build cache for both
	goTest()

	var checkTime, goTestTime time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		check()
		checkTime += time.Since(start)
		start = time.Now()
		goTest()
		goTestTime += time.Since(start)
		n++
	}
	b.ReportMetric(float64(checkTime.Milliseconds())/float64(n), "check-ms/op")
	b.ReportMetric(float64(goTestTime.Milliseconds())/float64(n), "gotest-ms/op")
	b.ReportMetric(float64(checkTime)/float64(goTestTime), "check/gotest")
}
