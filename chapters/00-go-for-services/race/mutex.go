package race

// MutexCounter is a counter guarded by a sync.Mutex. Its zero value is ready to use.
type MutexCounter struct {
	// TODO(00-race): add a sync.Mutex and hold it around every access to n, reads included.
	n int64
}

// Inc adds one.
func (c *MutexCounter) Inc() {
	c.n++ // TODO(00-race): this read-modify-write races with every other Inc and Value
}

// Value returns the current count.
func (c *MutexCounter) Value() int64 {
	return c.n // TODO(00-race): an unlocked read races with Inc, even though it only reads
}
