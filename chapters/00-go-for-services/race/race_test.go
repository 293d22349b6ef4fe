package race

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const (
	writers = 8
	readers = 2
	threads = writers + readers
	// Writers run for a fixed time, not a fixed count: a few thousand increments finish before the
	// scheduler has even woken a second thread, and then a racy counter "passes" by luck. The time is
	// split into rounds because each new start puts the goroutines on threads afresh.
	rounds   = 5
	roundFor = 40 * time.Millisecond
)

// hammer runs rounds of writers goroutines that call Inc for roundFor, all released at once, while
// readers goroutines call Value and check that the count never goes backwards. After each round the
// count must equal the number of Inc calls made so far. It returns that number.
//
// Without -race this catches the plain `c.n++` in practice: racing goroutines lose increments by the
// million. It is still a matter of scheduling luck (a busy machine may never run two of them at once),
// and it cannot see a racy read whose value happens to look right. Only the race detector
// (go test -race) proves that every access is synchronised, which is why TestRaceDetectorOn insists on it.
func hammer(t *testing.T, name string, c Counter) int64 {
	t.Helper()
	// More threads than cores: goroutines run in parallel where cores are free, and where they are not,
	// the OS preempts threads at arbitrary instructions, between a load and its store too.
	if runtime.GOMAXPROCS(0) < threads {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	}
	var want int64
	for range rounds {
		made, backwards := round(c)
		want += made
		for _, b := range backwards {
			t.Errorf("%s.Value() went from %d back to %d while Inc was running: reads must be synchronised too", name, b[0], b[1])
		}
		got := c.Value()
		require.Equal(t, want, got,
			"%s.Value() = %d after %d goroutines made %d Inc calls, want %d: %d increments were lost to the race",
			name, got, writers, want, want, want-got)
	}
	return want
}

// round runs one round of hammer and returns the Inc calls made and any backward reads seen.
func round(c Counter) (made int64, backwards [][2]int64) {
	start := make(chan struct{})
	var stop atomic.Bool
	var total atomic.Int64
	var writing, reading sync.WaitGroup
	for range writers {
		writing.Go(func() {
			<-start
			var n int64
			for !stop.Load() {
				c.Inc()
				n++
			}
			total.Add(n)
		})
	}
	done := make(chan struct{})
	back := make(chan [2]int64, readers)
	for range readers {
		reading.Go(func() {
			<-start
			last := c.Value()
			for {
				select {
				case <-done:
					return
				default:
				}
				v := c.Value()
				if v < last {
					back <- [2]int64{last, v}
					return
				}
				last = v
			}
		})
	}
	close(start)
	time.Sleep(roundFor)
	stop.Store(true)
	writing.Wait()
	close(done)
	reading.Wait()
	close(back)
	for b := range back {
		backwards = append(backwards, b)
	}
	return total.Load(), backwards
}

func TestRaceMutex(t *testing.T) {
	hammer(t, "MutexCounter", &MutexCounter{})
}

func TestRaceChannel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := NewChanCounter()
	want := hammer(t, "ChanCounter", c)
	within(t, "ChanCounter.Close()", c.Close)
	within(t, "a second ChanCounter.Close()", c.Close) // a second Close must be safe
	within(t, "ChanCounter.Inc() after Close", c.Inc)  // and Inc after Close must neither block nor count
	var got int64
	within(t, "ChanCounter.Value() after Close", func() { got = c.Value() })
	require.Equal(t, want, got, "ChanCounter.Value() after Close = %d, want the final count %d", got, want)
}

// within runs f and fails the test if f panics or has not returned after a generous 2s: a call that
// blocks after Close would otherwise hang the test run instead of failing it.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s panicked: %v; want Close to be safe to call more than once, and Inc and Value to be safe after it", what, p)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%s blocked for 2s, want it to return at once: after Close, Inc does nothing and Value returns the final count, so neither may wait for the stopped owner goroutine", what)
	}
}

// A caller who counts something and then reads the count must see its own increment, whatever the
// counter is built from. Each Inc returns only once the count includes it.
func TestRaceReadsOwnWrites(t *testing.T) {
	const incs = 2000
	counters := []struct {
		name string
		new  func() (Counter, func())
	}{
		{"MutexCounter", func() (Counter, func()) { return &MutexCounter{}, func() {} }},
		{"AtomicCounter", func() (Counter, func()) { return &AtomicCounter{}, func() {} }},
		{"ChanCounter", func() (Counter, func()) { c := NewChanCounter(); return c, c.Close }},
	}
	for _, tc := range counters {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			c, closeIt := tc.new()
			defer closeIt()
			for i := range int64(incs) {
				c.Inc()
				got := c.Value()
				require.Equal(t, i+1, got,
					"%s.Value() = %d right after Inc call %d from the same goroutine, want %d: Inc must return only once the count includes it (a queued, not yet counted increment is invisible to the next Value)",
					tc.name, got, i+1, i+1)
			}
		})
	}
}

// Value may race with Close: a reader still serving a request while the service shuts down. Every
// Value must return the exact count (no Inc is running), before, during and after Close.
func TestRaceChannelValueDuringClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const rounds, incs, valueReaders = 50, 10, 4
	for round := range rounds {
		c := NewChanCounter()
		for range incs {
			c.Inc()
		}
		start := make(chan struct{})
		var closed atomic.Bool
		var readers sync.WaitGroup
		wrong := make(chan int64, valueReaders)
		for range valueReaders {
			readers.Go(func() {
				<-start
				// Keep reading until Close has returned, then once more.
				for more := true; more; {
					more = !closed.Load()
					if v := c.Value(); v != incs {
						wrong <- v
						return
					}
				}
			})
		}
		close(start)
		c.Close()
		closed.Store(true)
		within(t, "ChanCounter.Value() racing with Close", readers.Wait)
		close(wrong)
		for v := range wrong {
			t.Fatalf("ChanCounter.Value() = %d while Close ran (round %d), want %d: a Value that sees the counter closing must still return the final count, and read it only after the owner goroutine has published it",
				v, round+1, incs)
		}
	}
}

func TestRaceAtomic(t *testing.T) {
	hammer(t, "AtomicCounter", &AtomicCounter{})
}

// TestRaceDetectorOn fails unless the tests run under the race detector: the counters above are only
// proven race-free by it. A data race found by -race fails the test that triggered it.
func TestRaceDetectorOn(t *testing.T) {
	if !raceDetector {
		t.Fatal("the race detector is off, so these tests cannot prove the counters race-free: " +
			"run `go test -race ./00-go-for-services/race` (needs cgo and a C compiler)")
	}
}
