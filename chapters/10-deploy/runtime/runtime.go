// Package runtimecfg sets the Go runtime up for the container it runs in.
//
// GOMAXPROCS needs nothing from you since Go 1.25: the runtime reads the cgroup CPU limit at startup and
// keeps re-reading it (GODEBUG containermaxprocs=1 and updatemaxprocs=1, the defaults from go 1.25 in go.mod).
// GOMEMLIMIT is different: the runtime never derives it from the container's memory limit, so a process
// whose heap grows towards the limit is OOM-killed before the GC works hard. MemoryLimit derives it.
package runtimecfg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
)

// Fraction of the container's memory limit that the Go runtime gets as its soft limit. The rest is headroom
// for what the runtime does not count (memory of cgo or the kernel for the process, stacks in flight, the
// moment between a limit hit and the GC's reaction).
const Fraction = 0.9

// Source says where a memory limit came from.
type Source string

const (
	FromEnv      Source = "GOMEMLIMIT" // the operator set GOMEMLIMIT; the runtime already uses it
	FromCgroupV2 Source = "cgroup v2"  // CgroupV2MemoryMax
	FromCgroupV1 Source = "cgroup v1"  // CgroupV1MemoryLimit
	NoLimit      Source = "none"       // no memory limit: keep the runtime's default (none)
)

// The memory limit files of the process's own cgroup as a container sees them, relative to the root of the
// file system (fs.FS paths have no leading slash).
const (
	CgroupV2MemoryMax   = "sys/fs/cgroup/memory.max"                   // a number of bytes, or "max"
	CgroupV1MemoryLimit = "sys/fs/cgroup/memory/memory.limit_in_bytes" // a number of bytes; huge means none
)

// cgroupV1Unlimited: cgroup v1 has no "max"; an unlimited group reports the largest int64 rounded down to a
// page (9223372036854771712). Anything this large is no limit.
const cgroupV1Unlimited = 1 << 62

// MemoryLimit returns the soft memory limit to set for this process and where it came from. root is the
// file system (os.DirFS("/") in production), getenv reads the environment (os.Getenv).
//
// An explicit GOMEMLIMIT wins: it returns 0, FromEnv. Otherwise it returns Fraction of the cgroup v2 limit,
// else of the cgroup v1 limit. With no limit, or no cgroup file, it returns 0, NoLimit. A file that exists
// but does not hold a limit is an error.
func MemoryLimit(root fs.FS, getenv func(string) string) (int64, Source, error) {
	// TODO(10-runtime): an explicit GOMEMLIMIT wins; else Fraction of the cgroup v2 limit, else of the cgroup v1
	// limit; "max" (v2) or a huge number (v1) is no limit; a missing file is no limit; garbage is an error.
	return 0, "", errors.New("TODO(10-runtime): MemoryLimit is not implemented")
}

func fraction(limit int64) int64 { return int64(float64(limit) * Fraction) }

// Settings is what the runtime uses after Apply.
type Settings struct {
	GOMAXPROCS int    `json:"gomaxprocs"` // runtime.GOMAXPROCS(0): the runtime's own container-aware pick
	NumCPU     int    `json:"num_cpu"`    // CPUs the process may run on (its affinity mask)
	GOMEMLIMIT int64  `json:"gomemlimit"` // debug.SetMemoryLimit(-1); math.MaxInt64 means none
	Source     Source `json:"source"`     // where GOMEMLIMIT came from
}

// Apply sets the soft memory limit from MemoryLimit(os.DirFS("/"), os.Getenv), leaves GOMAXPROCS to the
// runtime, and returns what the runtime uses. Call it first thing in main.
func Apply() (Settings, error) {
	limit, src, err := MemoryLimit(os.DirFS("/"), os.Getenv)
	if err != nil {
		return Settings{}, fmt.Errorf("memory limit: %w", err)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return Settings{
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		GOMEMLIMIT: debug.SetMemoryLimit(-1),
		Source:     src,
	}, nil
}
