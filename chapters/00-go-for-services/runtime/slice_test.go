package runtimedemo

import "testing"

// docs/interview/slice.md: the capacities append chooses for []int64 in Go 1.26 (go.mod). The rule is
// nextslicecap in runtime/slice.go: double while the old capacity is below 256; from 256 on, grow by
// (cap + 3*256)/4 per step (from 2x smoothly down to 1.25x); if the new length exceeds double the old
// capacity, take the new length. Then growslice rounds the byte size up to a malloc size class, so
// the final capacity can be larger than the formula says.
func TestSliceGrowth(t *testing.T) {
	tests := []struct {
		name    string
		oldCap  int
		add     int
		wantCap int
		why     string
	}{
		{"empty, append 1", 0, 1, 1, "new length 1 > 2*0: take the length; 8 bytes is a size class"},
		{"cap 4 doubles", 4, 1, 8, "4 < 256: double"},
		{"cap 128 doubles", 128, 1, 256, "128 < 256: double"},
		{"256 grows by (256+768)/4", 256, 1, 512, "256 + (256+768)/4 = 512; 4096 bytes is a size class"},
		{"512 grows ~1.6x, then rounds up", 512, 1, 848, "512 + (512+768)/4 = 832 → 6656 bytes → size class 6784 bytes = 848 elements"},
		{"large grows ~1.3x, then rounds to pages", 4096, 1, 6144, "4096 + (4096+768)/4 = 5312 → 42496 bytes, above the 32 KiB of size classes: rounded up to whole 8 KiB pages, 49152 bytes = 6144 elements"},
		{"append 5 to empty", 0, 5, 6, "new length 5 > 2*0: take 5 → 40 bytes → size class 48 bytes = 6 elements"},
		{"append past double", 4, 9, 14, "new length 13 > 2*4: take 13 → 104 bytes → size class 112 bytes = 14 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := make([]int64, tt.oldCap)
			s = append(s, make([]int64, tt.add)...)
			if cap(s) != tt.wantCap {
				t.Fatalf("append %d to a full []int64 of cap %d: cap = %d, want %d (%s)", tt.add, tt.oldCap, cap(s), tt.wantCap, tt.why)
			}
		})
	}
}

// docs/interview/slice.md: append writes in place while there is capacity, so two slices can share
// one array; once it needs more, it copies to a new array and the two are independent.
func TestSliceGrowthAliasing(t *testing.T) {
	base := make([]int, 3, 4) // len 3, room for one more
	a := append(base, 1)      // fits: a shares base's array
	b := append(base, 2)      // fits too: writes the SAME slot a uses
	if a[3] != 2 {
		t.Fatalf("a[3] = %d after b := append(base, 2), want 2: a and b share base's array, so b overwrote a's element", a[3])
	}
	c := append(a, 3) // a is full (len 4, cap 4): a new array
	c[0] = 100
	if a[0] != 0 || b[0] != 0 {
		t.Fatalf("a[0], b[0] = %d, %d after changing c[0], want 0, 0: c got its own array when append grew", a[0], b[0])
	}

	// A full slice expression caps the capacity, so the next append must copy: the usual way to
	// hand out a sub-slice that the receiver cannot write through.
	d := append(base[:3:3], 9)
	d[0] = 7
	if base[0] != 0 {
		t.Fatalf("base[0] = %d after appending to base[:3:3] and writing to the result, want 0", base[0])
	}
}
