package runtimedemo

import (
	"math"
	"regexp"
	"runtime"
	"runtime/debug"
	"testing"
)

var sinkBytes []byte

// allocGarbage allocates total bytes in 64 KiB pieces, each dropped at once.
func allocGarbage(total int) {
	for range total / (64 << 10) {
		sinkBytes = make([]byte, 64<<10)
	}
	sinkBytes = nil
}

// docs/interview/gc.md: with GOGC=off nothing triggers a collection; with GOGC=off and a GOMEMLIMIT
// (Go 1.19), the limit alone triggers them. Same settings as the environment variables
// GOGC=off GOMEMLIMIT=64MiB, set here through runtime/debug and restored afterwards.
func TestGOGCOffAndMemoryLimit(t *testing.T) {
	oldPercent := debug.SetGCPercent(-1)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})

	runtime.GC() // finish any cycle in flight, so the count below starts clean
	before := numGC()
	allocGarbage(128 << 20)
	if n := numGC() - before; n != 0 {
		t.Fatalf("GOGC=off, no memory limit: %d collections while allocating 128 MiB, want 0", n)
	}

	debug.SetMemoryLimit(64 << 20)
	runtime.GC()
	before = numGC()
	allocGarbage(256 << 20)
	if n := numGC() - before; n == 0 {
		t.Fatal("GOGC=off, GOMEMLIMIT=64MiB: no collection while allocating 256 MiB, want some: the limit triggers GC")
	}
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// docs/interview/gc.md: GODEBUG=gctrace=1 prints one line per cycle.
//
//	GODEBUG=gctrace=1 ./service
//	gc 1 @0.012s 2%: 0.010+0.35+0.004 ms clock, ... 4->4->0 MB, 4 MB goal, ... 2 P (forced)
func TestGCTrace(t *testing.T) {
	out, code := runChild(t, "force-gc", "GODEBUG=gctrace=1")
	if code != 0 {
		t.Fatalf("force-gc child exited %d:\n%s", code, out)
	}
	line := regexp.MustCompile(`(?m)^gc \d+ @.*MB goal.*\(forced\)$`).FindString(out)
	if line == "" {
		t.Fatalf("GODEBUG=gctrace=1 with runtime.GC() printed:\n%s\nwant a line \"gc N @... MB goal ... (forced)\"", out)
	}
	t.Log(line)
}

func childForceGC() {
	allocGarbage(8 << 20)
	runtime.GC()
	// runtime.GC can return while the cycle's gctrace line is still being printed, and exiting
	// would cut it short. The runtime prints it before releasing the lock a new cycle needs, so a
	// second cycle cannot start until the first line is complete (gcMarkTermination in mgc.go).
	runtime.GC()
}
