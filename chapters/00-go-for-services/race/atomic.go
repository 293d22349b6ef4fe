package race

// AtomicCounter is a counter updated with one atomic instruction per operation. Its zero value is ready to use.
type AtomicCounter struct {
	// TODO(00-race): use sync/atomic's atomic.Int64 instead of a plain int64.
	n int64
}

// Inc adds one.
func (c *AtomicCounter) Inc() {
	c.n++ // TODO(00-race): one atomic add; an atomic load followed by an atomic store still loses increments
}

// Value returns the current count.
func (c *AtomicCounter) Value() int64 {
	return c.n // TODO(00-race): an atomic load
}
