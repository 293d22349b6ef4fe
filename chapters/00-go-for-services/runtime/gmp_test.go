package runtimedemo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// docs/interview/gmp.md: since Go 1.14 a goroutine in a loop without function calls is preempted
// asynchronously (sysmon marks it after 10ms, a signal interrupts the thread). With one P, the main
// goroutine below can only run again if the spinning goroutine is preempted.
//
//	go test -run TestAsyncPreemption -v ./00-go-for-services/runtime/
//
// With GODEBUG=asyncpreemptoff=1 the same child hangs (try it: the test then times out).
func TestAsyncPreemption(t *testing.T) {
	out, code := runChild(t, "spinning-goroutine", "GOMAXPROCS=1")
	if code != 0 || !strings.Contains(out, "main goroutine ran again") {
		t.Fatalf("child with GOMAXPROCS=1 and a spinning goroutine exited %d, output %q; want exit 0 and "+
			"\"main goroutine ran again\": since Go 1.14 a tight loop is preempted asynchronously", code, out)
	}
}

var spinning atomic.Bool

func childSpinningGoroutine() {
	go func() {
		spinning.Store(true)
		for {
			// No function call, no allocation: no cooperative preemption point at all.
		}
	}()
	// Yield until the spinner holds the only P. From then on, this goroutine runs again only
	// if the spinner is preempted.
	for !spinning.Load() {
		runtime.Gosched()
	}
	fmt.Printf("GOMAXPROCS=%d, main goroutine ran again\n", runtime.GOMAXPROCS(0))
}

// docs/interview/gmp.md: GODEBUG=schedtrace=X prints one line every X ms with the global run queue
// and each P's local run queue. The test reads the child's stderr until the first SCHED line.
//
//	GODEBUG=schedtrace=1000 go run ./your/service    # once a second
//	GODEBUG=schedtrace=1000,scheddetail=1 ...        # plus every P, M and G
func TestSchedtrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	defer cancel()
	cmd := child(ctx, "schedtrace", "GODEBUG=schedtrace=10")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var line string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "SCHED") {
			line = sc.Text()
			break
		}
	}
	stdin.Close()               // the child exits when its stdin closes
	io.Copy(io.Discard, stderr) // read to EOF before Wait, as os/exec requires
	if err := cmd.Wait(); err != nil {
		t.Fatalf("schedtrace child: %v", err)
	}
	t.Logf("first line: %s", line)
	for _, field := range []string{"gomaxprocs=", "idleprocs=", "threads=", "runqueue="} {
		if !strings.Contains(line, field) {
			t.Errorf("GODEBUG=schedtrace=10 printed %q, want a SCHED line with %s", line, field)
		}
	}
}

func childSchedtrace() {
	io.Copy(io.Discard, os.Stdin)
}

// Example_schedtrace prints how to watch the scheduler. The numbers depend on the machine,
// so the example prints the commands instead of the values.
func Example_schedtrace() {
	_ = runtime.GOMAXPROCS(0) // 0 reads the value without changing it
	fmt.Println("GODEBUG=schedtrace=1000 ./service                # SCHED line per second: gomaxprocs, threads, runqueue=global [local per P]")
	fmt.Println("GODEBUG=schedtrace=1000,scheddetail=1 ./service  # plus the state of every P, M and G")
	// Output:
	// GODEBUG=schedtrace=1000 ./service                # SCHED line per second: gomaxprocs, threads, runqueue=global [local per P]
	// GODEBUG=schedtrace=1000,scheddetail=1 ./service  # plus the state of every P, M and G
}
