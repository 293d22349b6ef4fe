package runtimedemo

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// docs/interview/map.md: concurrent writes to a built-in map are detected (best effort) and end the
// process with "fatal error: concurrent map writes". It is a fatal error, not a panic: recover does
// not stop it, so the child's deferred recovers never print.
//
//	go test -run TestConcurrentMapWritesIsFatal -v ./00-go-for-services/runtime/
func TestConcurrentMapWritesIsFatal(t *testing.T) {
	out, code := runChild(t, "concurrent-map-writes", "GOMAXPROCS=2")
	if code != 2 || !strings.Contains(out, "fatal error: concurrent map writes") {
		t.Fatalf("child writing one map from two goroutines exited %d; want exit 2 with \"fatal error: concurrent map writes\"; output:\n%s", code, firstLines(out, 20))
	}
	if strings.Contains(out, "recovered") {
		t.Fatalf("child output contains %q: recover must not stop a fatal error; output:\n%s", "recovered", firstLines(out, 20))
	}
}

func childConcurrentMapWrites() {
	m := map[int]int{}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					fmt.Println("recovered:", r)
				}
			}()
			// Write until the runtime catches the two writers inside a write at the same time.
			// On two threads that takes microseconds; the loop never ends on its own.
			for i := 0; ; i++ {
				m[i%1024] = g
			}
		}()
	}
	wg.Wait()
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// docs/interview/map.md: sync.Map's LoadOrStore settles concurrent first writers on one value. Every
// goroutine sees the same stored value, and exactly one of them stored it.
func TestSyncMapLoadOrStore(t *testing.T) {
	var m sync.Map
	const goroutines = 8
	var wg sync.WaitGroup
	got := make([]any, goroutines)
	stored := make([]bool, goroutines)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, loaded := m.LoadOrStore("config", i)
			got[i], stored[i] = v, !loaded
		}()
	}
	wg.Wait()
	winners := 0
	for i := range goroutines {
		if got[i] != got[0] {
			t.Errorf("goroutine %d loaded %v, goroutine 0 loaded %v: want one value for everyone", i, got[i], got[0])
		}
		if stored[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d goroutines stored a value, want exactly 1", winners)
	}
}
