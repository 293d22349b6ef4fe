package runtimedemo

// The functions below are the escape-analysis demonstration (docs/interview/escape-analysis.md).
// See the compiler's decisions with:
//
//	cd chapters && go build -gcflags=-m ./00-go-for-services/runtime/
//
// They are marked noinline so that each decision is made here, in the function itself; once a
// function is inlined, the caller's context decides again, and the output would show that instead.

// Point is a small value type.
type Point struct{ X, Y int }

// NewPointValue returns a copy: the Point lives in the caller's frame, no heap allocation.
//
//go:noinline
func NewPointValue(x, y int) Point {
	return Point{X: x, Y: y}
}

// NewPointPointer returns a pointer to a local, so the local outlives the call:
// the compiler reports "&Point{...} escapes to heap" and allocates it on the heap.
//
//go:noinline
func NewPointPointer(x, y int) *Point {
	return &Point{X: x, Y: y}
}

// SumLocal takes the address of a local but the pointer never leaves the function, so the local
// stays on the stack: sum's parameter is reported as "p does not escape", and no "moved to heap"
// line appears for SumLocal.
//
//go:noinline
func SumLocal(x, y int) int {
	p := Point{X: x, Y: y}
	return sum(&p)
}

func sum(p *Point) int { return p.X + p.Y }

// Boxed stores an int in an interface. Converting a non-constant value to an interface needs a
// pointer to a copy of it, and here the interface leaves the function, so the copy escapes
// ("x escapes to heap"). At run time the runtime's convT64 still skips the allocation for the
// values 0-255: it points into a static table (staticuint64s in runtime/iface.go).
//
//go:noinline
func Boxed(x int) any {
	return x
}
