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
	c.Close()
	c.Close() // a second Close must be safe
	c.Inc()   // and Inc after Close must neither block nor count
	require.Equal(t, want, c.Value(), "ChanCounter.Value() after Close = %d, want the final count %d", c.Value(), want)
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
