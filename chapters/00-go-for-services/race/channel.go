package race

// ChanCounter shares the count by communicating: one goroutine owns n, and Inc and Value send it
// requests over channels. Create it with NewChanCounter and stop its goroutine with Close.
type ChanCounter struct {
	// TODO(00-race): replace n with channels served by one owner goroutine started in NewChanCounter.
	n int64
}

// NewChanCounter starts the goroutine that owns the count.
func NewChanCounter() *ChanCounter {
	// TODO(00-race): make the channels and start the owner goroutine.
	return &ChanCounter{}
}

// Inc adds one.
func (c *ChanCounter) Inc() {
	c.n++ // TODO(00-race): ask the owner goroutine to add one instead
}

// Value returns the current count.
func (c *ChanCounter) Value() int64 {
	return c.n // TODO(00-race): ask the owner goroutine for the count instead
}

// Close stops the owner goroutine and waits for it to exit. Calling Close twice is safe;
// after Close, Inc does nothing and Value returns the final count.
func (c *ChanCounter) Close() {
	// TODO(00-race): stop the owner goroutine and wait until it has exited.
}
