package runtimedemo

import (
	"sync"
	"testing"
)

// docs/interview/channel.md: close does not drop buffered values. Receivers get every buffered
// value with ok == true, and only then the zero value with ok == false.
func TestClosedBufferedChannelDrains(t *testing.T) {
	ch := make(chan int, 3)
	ch <- 1
	ch <- 2
	close(ch)

	want := []struct {
		v  int
		ok bool
	}{{1, true}, {2, true}, {0, false}, {0, false}}
	for i, w := range want {
		v, ok := <-ch
		if v != w.v || ok != w.ok {
			t.Fatalf("receive %d from a closed channel holding [1 2] = (%d, %v), want (%d, %v): close keeps the buffer", i+1, v, ok, w.v, w.ok)
		}
	}
}

// docs/interview/channel.md: close wakes every goroutine waiting in recvq, which is why closing a
// channel works as a broadcast.
func TestCloseWakesEveryReceiver(t *testing.T) {
	const receivers = 10
	ch := make(chan struct{})
	var wg sync.WaitGroup
	oks := make([]bool, receivers)
	for i := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, oks[i] = <-ch
		}()
	}
	close(ch)
	wg.Wait() // hangs (and the test times out) if close woke fewer than all of them
	for i, ok := range oks {
		if ok {
			t.Errorf("receiver %d got ok == true from a closed empty channel, want false", i)
		}
	}
}

// docs/interview/channel.md: the three channel operations that panic (see closechan and chansend in
// runtime/chan.go).
func TestChannelPanics(t *testing.T) {
	tests := []struct {
		name string
		op   func()
		want string
	}{
		{"send on closed channel", func() { ch := make(chan int, 1); close(ch); ch <- 1 }, "send on closed channel"},
		{"close of closed channel", func() { ch := make(chan int); close(ch); close(ch) }, "close of closed channel"},
		{"close of nil channel", func() { var ch chan int; close(ch) }, "close of nil channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recoverFrom(tt.op)
			if err, ok := got.(error); !ok || err.Error() != tt.want {
				t.Fatalf("%s: recovered %v, want a runtime error %q", tt.name, got, tt.want)
			}
		})
	}
}

func recoverFrom(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// docs/interview/channel.md: a nil channel blocks forever, so in a select its case is never chosen.
// Setting a drained channel to nil is how a select loop turns one of its cases off.
func TestNilChannelNeverReadyInSelect(t *testing.T) {
	var off chan int // nil
	on := make(chan int, 1)
	for i := range 100 {
		on <- i
		select {
		case <-off:
			t.Fatal("a receive from a nil channel was chosen in select, want it never ready")
		case v := <-on:
			if v != i {
				t.Fatalf("received %d, want %d", v, i)
			}
		}
	}
}
