package race

import "sync"

// MutexCounter is a counter guarded by a sync.Mutex. Its zero value is ready to use.
//
// A mutex is the general tool: it protects any invariant over any number of fields. The cost is
// contention; for a lone integer an atomic is cheaper, but the moment the counter grows a second field
// that must change together with the first (a sum and a count for an average), the mutex is right.
type MutexCounter struct {
	mu sync.Mutex // guards n
	n  int64
}

// Inc adds one.
func (c *MutexCounter) Inc() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

// Value returns the current count. Reads take the lock too: an unlocked read racing with a write is a
// data race even if the value "looks fine", and the race detector reports it.
func (c *MutexCounter) Value() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
