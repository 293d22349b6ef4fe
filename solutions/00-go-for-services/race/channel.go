package race

import "sync"

// ChanCounter shares the count by communicating: one goroutine owns n, and Inc and Value send it
// requests over channels. Create it with NewChanCounter and stop its goroutine with Close.
//
// This is the slowest of the three for a counter (each Inc is a goroutine handoff), and it is shown
// for the pattern, not for counters: an owner goroutine is the natural fit when the state comes with
// its own work (a connection, a batch that flushes on a timer), because nothing else ever touches it.
type ChanCounter struct {
	inc     chan struct{}
	get     chan int64
	quit    chan struct{} // closed by Close: tells the owner to stop
	stopped chan struct{} // closed by the owner when it has exited; after that, final is safe to read
	final   int64
	once    sync.Once
}

// NewChanCounter starts the goroutine that owns the count.
func NewChanCounter() *ChanCounter {
	c := &ChanCounter{
		inc:     make(chan struct{}),
		get:     make(chan int64),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go c.own()
	return c
}

// own is the only code that touches n, so n needs no lock.
func (c *ChanCounter) own() {
	defer close(c.stopped)
	var n int64
	for {
		select {
		case <-c.inc:
			n++
		case c.get <- n:
		case <-c.quit:
			c.final = n // published to readers by close(c.stopped)
			return
		}
	}
}

// Inc adds one. After Close it does nothing: selecting on quit keeps a late caller from blocking forever.
func (c *ChanCounter) Inc() {
	select {
	case c.inc <- struct{}{}:
	case <-c.quit:
	}
}

// Value returns the current count, or the final count after Close.
func (c *ChanCounter) Value() int64 {
	select {
	case v := <-c.get:
		return v
	case <-c.stopped:
		return c.final
	}
}

// Close stops the owner goroutine and waits for it to exit, so it never leaks. Calling Close twice is safe.
func (c *ChanCounter) Close() {
	c.once.Do(func() { close(c.quit) })
	<-c.stopped
}
