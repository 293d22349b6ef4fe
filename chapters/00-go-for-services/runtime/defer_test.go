package runtimedemo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// docs/interview/defer-panic-recover.md: deferred calls run last-in first-out, and their arguments
// are evaluated when the defer statement runs, not when the call runs.
func TestDeferOrderAndArguments(t *testing.T) {
	var got []string
	func() {
		for i := range 3 {
			defer func(n int) { got = append(got, fmt.Sprint("arg ", n)) }(i)
		}
		x := "at defer"
		defer func(s string) { got = append(got, s) }(x) // x is copied now
		x = "changed later"
		_ = x
	}()
	want := []string{"at defer", "arg 2", "arg 1", "arg 0"}
	if !slices.Equal(got, want) {
		t.Fatalf("deferred calls ran as %q, want %q: LIFO, arguments evaluated at the defer statement", got, want)
	}
}

// docs/interview/defer-panic-recover.md: a deferred closure can change a named result, which is how
// a function turns a panic into an error.
func TestDeferTurnsPanicIntoError(t *testing.T) {
	err := safeCall(func() { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("safeCall(panicking func) = %v, want an error containing \"boom\"", err)
	}
	if err := safeCall(func() {}); err != nil {
		t.Fatalf("safeCall(func(){}) = %v, want nil", err)
	}
}

func safeCall(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	f()
	return nil
}

var errCaughtOutside = errors.New("the panic went past the inner deferred call")

// docs/interview/defer-panic-recover.md: recover stops a panic only when the deferred function
// itself calls it. Called one level deeper, it returns nil and the panic goes on.
func TestRecoverOnlyInTheDeferredCall(t *testing.T) {
	tests := []struct {
		name          string
		inner         func(got *any)
		wantRecovered bool
	}{
		{"deferred closure calls recover", func(got *any) { defer func() { *got = recover() }(); panic("boom") }, true},
		{"deferred named function calls recover", func(got *any) { defer recoverInto(got); panic("boom") }, true},
		{"deferred closure calls a helper that calls recover", func(got *any) { defer func() { recoverInto(got) }(); panic("boom") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			outer := func() (err error) {
				defer func() {
					if recover() != nil {
						err = errCaughtOutside
					}
				}()
				tt.inner(&got)
				return nil
			}()
			if tt.wantRecovered && (got == nil || outer != nil) {
				t.Fatalf("%s: recover() = %v, panic escaped: %v; want the panic value and no escape", tt.name, got, outer)
			}
			if !tt.wantRecovered && (got != nil || !errors.Is(outer, errCaughtOutside)) {
				t.Fatalf("%s: recover() = %v, outer = %v; want nil and the panic caught outside", tt.name, got, outer)
			}
		})
	}
}

func recoverInto(got *any) { *got = recover() }

// docs/interview/defer-panic-recover.md: a panic that no deferred call in ITS goroutine recovers
// ends the whole process, whatever the main goroutine defers.
func TestPanicInAnotherGoroutineCrashesTheProcess(t *testing.T) {
	out, code := runChild(t, "goroutine-panic")
	if code != 2 || !strings.Contains(out, "panic: boom in a worker goroutine") {
		t.Fatalf("child exited %d, output:\n%s\nwant exit 2 and \"panic: boom in a worker goroutine\"", code, firstLines(out, 20))
	}
	if strings.Contains(out, "main recovered") {
		t.Fatalf("child printed \"main recovered\": recover in main must not see another goroutine's panic")
	}
}

func childGoroutinePanic() {
	defer func() {
		if r := recover(); r != nil {
			fmt.Println("main recovered:", r)
		}
	}()
	go func() { panic("boom in a worker goroutine") }()
	time.Sleep(childTimeout) // the worker's panic ends the process long before this
}
