// Package race holds one data race, a shared counter, fixed three ways: a mutex, a channel
// that gives the count to a single owner goroutine, and an atomic.
//
// The race: `c.n++` is a load, an add and a store. Two goroutines can load the same value and both
// store value+1, so an increment is lost. Go's memory model limits what a racy read of one word can
// return (some value that was written), but the program is still wrong, and a race on a multi-word
// value (an interface, a slice, a string) can even corrupt memory. The race detector reports them all.
package race

// Counter is safe to use from many goroutines at once once the exercise is done.
type Counter interface {
	Inc()
	Value() int64
}
