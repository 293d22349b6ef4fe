// Package race holds one data race, a shared counter, fixed three ways: a mutex, a channel
// that gives the count to a single owner goroutine, and an atomic.
//
// The race: `c.n++` is a load, an add and a store. Two goroutines can load the same value and both
// store value+1, so an increment is lost; and the Go memory model gives no meaning at all to a
// program with a data race, so "it only loses a few" is not a safe reading of the bug.
package race

// Counter is safe to use from many goroutines at once once the exercise is done.
type Counter interface {
	Inc()
	Value() int64
}
