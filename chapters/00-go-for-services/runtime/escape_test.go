package runtimedemo

import "testing"

// Sinks keep results alive, so the compiler cannot drop the calls.
var (
	sinkPoint    Point
	sinkPointPtr *Point
	sinkInt      int
	sinkAny      any
)

// docs/interview/escape-analysis.md: what escapes costs one heap allocation per call; what stays on
// the stack costs none. See the compiler's reasons with
//
//	go build -gcflags=-m ./00-go-for-services/runtime/
//	go test -run '^$' -bench Escape -benchmem ./00-go-for-services/runtime/
func TestEscapeAllocs(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want float64
	}{
		{"value result stays on the stack", func() { sinkPoint = NewPointValue(1, 2) }, 0},
		{"pointer to a local escapes", func() { sinkPointPtr = NewPointPointer(1, 2) }, 1},
		{"address used only inside stays on the stack", func() { sinkInt = SumLocal(1, 2) }, 0},
		{"int 1000 boxed in an interface escapes", func() { sinkAny = Boxed(1000) }, 1},
		{"int 7 boxed: the runtime points into a static table", func() { sinkAny = Boxed(7) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tt.f); got != tt.want {
				t.Fatalf("%s: %v allocations per call, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func BenchmarkEscape(b *testing.B) {
	b.Run("value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPoint = NewPointValue(1, 2)
		}
	})
	b.Run("pointer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkPointPtr = NewPointPointer(1, 2)
		}
	})
}
