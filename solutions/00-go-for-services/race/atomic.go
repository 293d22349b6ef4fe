package race

import "sync/atomic"

// AtomicCounter is a counter updated with one atomic instruction per operation. Its zero value is ready to use.
//
// atomic.Int64 (rather than atomic.AddInt64 on a plain int64) makes every access atomic by type: a plain
// `c.n++` cannot slip in later, and the value is 64-bit aligned even on 32-bit platforms.
type AtomicCounter struct {
	n atomic.Int64
}

// Inc adds one in a single read-modify-write. Load followed by Store would be two atomic steps with a
// gap between them, and would lose increments exactly like `c.n++` (without the race detector noticing).
func (c *AtomicCounter) Inc() {
	c.n.Add(1)
}

// Value returns the current count.
func (c *AtomicCounter) Value() int64 {
	return c.n.Load()
}
