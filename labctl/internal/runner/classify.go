package runner

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

const timeoutPanic = "panic: test timed out after "

// maxMessageLines bounds Message: enough for a testify block, short enough for a list view.
const maxMessageLines = 12

// finish classifies every test once the stream has ended.
func (r *Report) finish() {
	for _, pr := range r.Packages {
		if pr.FailedBuild != "" || len(r.builds[pr.ImportPath]) > 0 {
			failed, _, _ := strings.Cut(pr.FailedBuild, " ")
			pr.CompileErrors = r.builds[failed]
			if len(pr.CompileErrors) == 0 {
				pr.CompileErrors = r.builds[pr.ImportPath]
			}
			if len(pr.CompileErrors) == 0 && pr.FailedBuild != "" {
				pr.CompileErrors = []CompileError{{Message: "build failed: " + pr.FailedBuild}}
			}
		}
		timedOut := timeoutOf(pr.Output)
		for _, tb := range pr.order {
			if t := timeoutOf(tb.Output); t != "" {
				timedOut = t
			}
		}
		for _, tb := range pr.order {
			classify(tb, timedOut)
		}
		if pr.Done && pr.Failed && len(pr.CompileErrors) == 0 && !ranToEnd(pr.Output) {
			pr.stoppedBy = pr.blameEarlyExit()
		}
		pr.Tests = pr.Tests[:0]
		for _, tb := range pr.order {
			pr.Tests = append(pr.Tests, tb.TestResult)
		}
	}
}

// ranToEnd reports whether the test binary got to print its verdict ("PASS" or "FAIL" alone on a
// line, from testing.M.Run). Without it the binary died early and later tests never started.
func ranToEnd(pkgOutput string) bool {
	for line := range strings.Lines(pkgOutput) {
		if l := strings.TrimSpace(line); l == "PASS" || l == "FAIL" {
			return true
		}
	}
	return false
}

// blameEarlyExit names the test that ended the binary early: the one that panicked or timed out or,
// failing that, one that was running when the binary exited (os.Exit, log.Fatal, a panic in a
// goroutine). A running test that is not to blame keeps StatusNotRun, with the reason as its message.
func (pr *PackageReport) blameEarlyExit() string {
	culprit := ""
	for _, tb := range pr.order {
		if tb.Panic || tb.Status == StatusTimeout {
			culprit = tb.Name
			break
		}
	}
	for _, tb := range pr.order {
		if tb.Status != StatusNotRun || !strings.Contains(tb.Output, "=== RUN") {
			continue
		}
		if culprit != "" {
			tb.Message = "did not finish: " + culprit + " stopped the test binary"
			continue
		}
		culprit, tb.Status = tb.Name, StatusFail
		if p := panicMessage(tb.Output + pr.Output); p != "" {
			tb.Panic, tb.Message = true, p
		} else {
			tb.Message = "the test binary exited while this test ran (os.Exit or log.Fatal?):\n" +
				lastLines(tb.Output+pr.Output, maxMessageLines)
		}
	}
	return culprit
}

// classify sets the final status and message of one top-level test.
func classify(tb *testBuild, timedOut string) {
	switch tb.Status {
	case StatusFail:
		if line := lineWith(tb.Output, UnavailablePrefix); line != "" {
			tb.Status = StatusInfraError
			tb.Message = line[strings.Index(line, UnavailablePrefix):]
			return
		}
		if p := panicMessage(tb.Output); p != "" {
			tb.Panic = true
			tb.Message = p
			return
		}
		tb.Message = firstFailure(tb.Output)
	case StatusSkip:
		tb.Message = firstFailure(tb.Output)
	case StatusPass:
		if len(tb.skippedSub) > 0 {
			tb.Status = StatusSkip
			tb.Message = "subtest " + tb.skippedSub[0] + " skipped"
		}
	case StatusNotRun:
		if timedOut != "" && strings.Contains(tb.Output, "=== RUN") {
			tb.Status = StatusTimeout
			tb.Message = "test timed out after " + timedOut + " (go test -timeout): look for a blocked channel, a missing cancel or a lock never released"
		}
	}
}

func timeoutOf(out string) string {
	i := strings.Index(out, timeoutPanic)
	if i < 0 {
		return ""
	}
	rest := out[i+len(timeoutPanic):]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

func lineWith(out, substr string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

var (
	// locLine is how testing prefixes t.Error/t.Log output: "    file_test.go:12: message".
	locLine = regexp.MustCompile(`^(\s+)[\w.\-/]+\.go:\d+: `)
	// testMarker is a line of go test's own ("=== RUN", "--- FAIL: TestX"), which ends a block. A bare
	// "--- " is not: testify's Diff: section prints "--- Expected" inside a failure.
	testMarker = regexp.MustCompile(`^\s*(=== (RUN|PAUSE|CONT|NAME)\b|--- (FAIL|PASS|SKIP): )`)
	// keepAlways are testify lines kept even past maxMessageLines.
	keepAlways = regexp.MustCompile(`^(Test|Messages):\s`)
	// frameLine is a goroutine stack frame's location: "\t/path/to/file.go:42 +0x1d".
	frameLine = regexp.MustCompile(`^\t(\S+\.go):(\d+)`)
)

// failureWords tell a failure block from a t.Log block; testing's output does not say which is which.
var failureWords = regexp.MustCompile(`(?i)error|\bwant|expect|\bgot\b|\bfailed\b|\bmust\b|\bshould\b|todo|not implemented|unavailable|panic`)

// firstFailure returns the first t.Error/t.Fatal block of a test's output (a location line and the
// lines indented under it), skipping blocks that look like t.Log; failing that, the last block.
func firstFailure(out string) string {
	blocks := locationBlocks(out)
	for _, b := range blocks {
		if failureWords.MatchString(b) {
			return b
		}
	}
	if len(blocks) == 0 {
		return ""
	}
	return blocks[len(blocks)-1]
}

// locationBlocks splits output into blocks that start at a "file.go:N: " line.
func locationBlocks(out string) []string {
	var blocks []string
	var cur []string
	indent := ""
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
		}
		cur = nil
	}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		trimmed := strings.TrimSpace(line)
		switch m := locLine.FindStringSubmatch(line); {
		case testMarker.MatchString(line):
			flush()
		case m != nil:
			flush()
			cur, indent = []string{trimmed}, m[1]
		case len(cur) > 0 && trimmed != "" && strings.HasPrefix(line, indent) &&
			(len(cur) < maxMessageLines || keepAlways.MatchString(trimmed)):
			// testify's Test: and Messages: lines come after a possibly long Diff: and say which subtest
			// failed and why, so they survive the cap.
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	flush()
	return blocks
}

// panicMessage returns "panic: ..." plus the first stack frame outside the runtime and testing,
// or "" when the output has no panic.
func panicMessage(out string) string {
	var msg string
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if msg == "" {
			if strings.HasPrefix(line, "panic: ") && !strings.HasPrefix(line, timeoutPanic) {
				msg = line
			}
			continue
		}
		if m := frameLine.FindStringSubmatch(line); m != nil && !isStdFrame(m[1]) {
			return msg + "\n    at " + filepath.Base(m[1]) + ":" + m[2]
		}
	}
	return msg
}

func isStdFrame(file string) bool {
	return strings.Contains(file, "/src/runtime/") || strings.Contains(file, "/src/testing/")
}

// buildErr matches "path/file.go:12:5: message" and "path/file.go:12: message".
var buildErr = regexp.MustCompile(`^(.+?\.go):(\d+)(?::(\d+))?: (.*)$`)

// appendBuildOutput parses one line of build output into compile errors. Lines starting with a tab
// continue the previous error; "# pkg" headers are dropped.
func appendBuildOutput(errs []CompileError, out, dir string) []CompileError {
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "# "):
		case strings.HasPrefix(line, "\t") && len(errs) > 0:
			errs[len(errs)-1].Message += "\n" + strings.TrimSpace(line)
		default:
			if m := buildErr.FindStringSubmatch(line); m != nil {
				ln, _ := strconv.Atoi(m[2])
				col, _ := strconv.Atoi(m[3])
				errs = append(errs, CompileError{File: relTo(dir, m[1]), Line: ln, Col: col, Message: m[4]})
			} else {
				errs = append(errs, CompileError{Message: strings.TrimSpace(line)})
			}
		}
	}
	return errs
}

// relTo makes an absolute path relative to dir when it is inside it.
func relTo(dir, file string) string {
	if !filepath.IsAbs(file) {
		return filepath.ToSlash(filepath.Clean(file))
	}
	if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return file
}
