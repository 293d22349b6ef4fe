package runtimecfg

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gomicrolab/microlab/chapters/10-deploy/internal/dockertest"
)

const mib = 1 << 20

// tolerance allows for rounding: float64(limit)*Fraction and limit*9/10 may differ by a byte.
const tolerance = 1024

// near reports whether got is want within tolerance (no overflow near math.MaxInt64).
func near(got, want int64) bool {
	d := got - want
	return d >= -tolerance && d <= tolerance
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestRuntimeMemoryLimitFromCgroupFiles(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		env        map[string]string
		limit      int64  // the container's limit; want Fraction of it (0: want 0)
		unreadable string // a file of files that exists but fails to open with fs.ErrPermission
		source     Source
		wantErr    bool
		why        string
	}{
		{
			name:   "cgroup v2 limit of 128 MiB",
			files:  map[string]string{CgroupV2MemoryMax: "134217728\n"},
			limit:  128 * mib,
			source: FromCgroupV2,
			why:    "the GC must start working hard before the kernel's OOM killer does, so leave headroom below memory.max",
		},
		{
			name:   "cgroup v2 limit of 1 GiB",
			files:  map[string]string{CgroupV2MemoryMax: "1073741824\n"},
			limit:  1024 * mib,
			source: FromCgroupV2,
			why:    "the soft limit is a fraction of whatever memory.max says",
		},
		{
			name:   "cgroup v2 without a limit",
			files:  map[string]string{CgroupV2MemoryMax: "max\n"},
			source: NoLimit,
			why:    `memory.max is "max" when the container has no memory limit: that is no limit, not an error`,
		},
		{
			name:   "cgroup v2 limit of 8 GiB",
			files:  map[string]string{CgroupV2MemoryMax: "8589934592\n"},
			limit:  8192 * mib,
			source: FromCgroupV2,
			why:    "limits of 2 GiB and more are common: the file holds a 64-bit number of bytes",
		},
		{
			name:   "cgroup v1 limit of 256 MiB",
			files:  map[string]string{CgroupV1MemoryLimit: "268435456\n"},
			limit:  256 * mib,
			source: FromCgroupV1,
			why:    "hosts on cgroup v1 (older kernels and Docker setups) keep the limit in memory/memory.limit_in_bytes",
		},
		{
			name:   "cgroup v1 without a limit",
			files:  map[string]string{CgroupV1MemoryLimit: "9223372036854771712\n"},
			source: NoLimit,
			why:    "cgroup v1 reports no limit as the largest page-aligned int64: taking 90% of it as a limit is nonsense",
		},
		{
			name:   "cgroup v1 limit of 16 GiB",
			files:  map[string]string{CgroupV1MemoryLimit: "17179869184\n"},
			limit:  16384 * mib,
			source: FromCgroupV1,
			why:    "limits of 2 GiB and more are common: the file holds a 64-bit number of bytes",
		},
		{
			name:   "cgroup v1 without a limit, 64 KiB pages",
			files:  map[string]string{CgroupV1MemoryLimit: "9223372036854710272\n"},
			source: NoLimit,
			why: "the kernel rounds the largest int64 down to its page size: 9223372036854710272 on kernels with 64 KiB " +
				"pages (arm64, ppc64le); any value that large is no limit, not only the 4 KiB-page one",
		},
		{
			name: "cgroup v2 before v1",
			files: map[string]string{
				CgroupV2MemoryMax:   "134217728\n",
				CgroupV1MemoryLimit: "1073741824\n",
			},
			limit:  128 * mib,
			source: FromCgroupV2,
			why:    "where the v2 file exists it is the process's limit",
		},
		{
			name:   "explicit GOMEMLIMIT wins over the cgroup",
			files:  map[string]string{CgroupV2MemoryMax: "134217728\n"},
			env:    map[string]string{"GOMEMLIMIT": "64MiB"},
			source: FromEnv,
			why:    "the operator's GOMEMLIMIT is a decision, and the runtime already applied it at startup: do not override it",
		},
		{
			name:   "GOMEMLIMIT=off wins over the cgroup",
			files:  map[string]string{CgroupV1MemoryLimit: "268435456\n"},
			env:    map[string]string{"GOMEMLIMIT": "off"},
			source: FromEnv,
			why:    "GOMEMLIMIT=off is an explicit choice of no limit",
		},
		{
			name:   "no cgroup files",
			files:  map[string]string{},
			source: NoLimit,
			why:    "outside a container (go run on a laptop) there is no limit to derive, and that is not an error",
		},
		{
			name:    "garbage in memory.max",
			files:   map[string]string{CgroupV2MemoryMax: "12ab\n"},
			wantErr: true,
			why:     "a file that exists but holds no limit must be reported, not silently read as no limit",
		},
		{
			name:    "zero in memory.max",
			files:   map[string]string{CgroupV2MemoryMax: "0\n"},
			wantErr: true,
			why:     "a limit of 0 bytes is no usable limit (every allocation would be over it): report it",
		},
		{
			name:    "zero in memory.limit_in_bytes",
			files:   map[string]string{CgroupV1MemoryLimit: "0\n"},
			wantErr: true,
			why:     "a limit of 0 bytes is no usable limit (every allocation would be over it): report it",
		},
		{
			name:       "memory.max exists but cannot be read",
			files:      map[string]string{CgroupV2MemoryMax: "134217728\n"},
			unreadable: CgroupV2MemoryMax,
			wantErr:    true,
			why: "only a missing file (fs.ErrNotExist) means no limit there; a file that exists but cannot be read " +
				"(permission denied) hides a real limit: report it, do not run without a soft limit",
		},
		{
			name:       "memory.limit_in_bytes exists but cannot be read",
			files:      map[string]string{CgroupV1MemoryLimit: "268435456\n"},
			unreadable: CgroupV1MemoryLimit,
			wantErr:    true,
			why: "only a missing file (fs.ErrNotExist) means no limit there; a file that exists but cannot be read " +
				"(permission denied) hides a real limit: report it, do not run without a soft limit",
		},
		{
			name:    "empty memory.limit_in_bytes",
			files:   map[string]string{CgroupV1MemoryLimit: ""},
			wantErr: true,
			why:     "a file that exists but holds no limit must be reported, not silently read as no limit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			var root fs.FS = fsys
			call := fmt.Sprintf("MemoryLimit(files %q, env %q)", tt.files, tt.env)
			if tt.unreadable != "" {
				root = unreadableFS{fsys, tt.unreadable}
				call = fmt.Sprintf("MemoryLimit(files %q with %s unreadable, env %q)", tt.files, tt.unreadable, tt.env)
			}
			got, src, err := MemoryLimit(root, env(tt.env))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("%s = %d, %q, nil; want an error: %s", call, got, src, tt.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: error %v, want none: %s", call, err, tt.why)
			}
			want := int64(float64(tt.limit) * Fraction)
			if src != tt.source || !near(got, want) {
				t.Fatalf("%s = %d, %q; want %d (%.0f%% of %d), %q: %s",
					call, got, src, want, Fraction*100, tt.limit, tt.source, tt.why)
			}
		})
	}
}

// unreadableFS is fsys where the file name exists but cannot be opened, as with a permission denied.
type unreadableFS struct {
	fsys fs.FS
	name string
}

func (u unreadableFS) Open(name string) (fs.File, error) {
	if name == u.name {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return u.fsys.Open(name)
}

// TestRuntimeApplyLeavesGOMAXPROCS calls Apply in this process after GOMAXPROCS was set explicitly (as the
// GOMAXPROCS environment variable does at startup) and checks that Apply kept it: GOMAXPROCS is the runtime's
// (or the operator's) decision. Setting it in Apply, to NumCPU for instance, undoes the runtime's cgroup CPU
// limit (a 1-CPU pod on a 32-core node runs 32 threads and is throttled) and stops the runtime's periodic update.
func TestRuntimeApplyLeavesGOMAXPROCS(t *testing.T) {
	prevProcs := runtime.GOMAXPROCS(1)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(prevProcs)
		debug.SetMemoryLimit(prevLimit)
	})
	s, err := Apply()
	if err != nil {
		t.Fatalf("Apply() on this machine: %v, want the settings (MemoryLimit(os.DirFS(\"/\"), os.Getenv) failed on "+
			"the real cgroup files)", err)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 || s.GOMAXPROCS != 1 {
		t.Errorf("after runtime.GOMAXPROCS(1), Apply() left GOMAXPROCS = %d and reported %d, want 1 for both: Apply "+
			"must not set GOMAXPROCS (an operator's GOMAXPROCS wins, and otherwise the runtime follows the cgroup CPU "+
			"limit and re-reads it; runtime.GOMAXPROCS(n) stops both)", got, s.GOMAXPROCS)
	}
}

// sources is this package's Go code as the test binary was compiled from it (a solution applied with
// `go test -overlay` included): the program the container runs must run the same code.
//
//go:embed *.go
var sources embed.FS

const limitsPkg = "github.com/gomicrolab/microlab/chapters/10-deploy/cmd/limits"

// The image of cmd/limits: the test's own, so that this exercise does not depend on 10-image's answers.
const limitsDockerfile = `FROM scratch
COPY limits /limits
USER 65532:65532
ENTRYPOINT ["/limits"]
`

// TestRuntimeInContainer runs cmd/limits (runtimecfg.Apply, then print what the runtime uses) in containers
// with and without CPU and memory limits, and checks what the Go runtime ends up with.
func TestRuntimeInContainer(t *testing.T) {
	ctx := context.Background()
	if err := dockertest.Available(ctx); err != nil {
		dockertest.Unavailable(t, err, "GOMAXPROCS and GOMEMLIMIT inside containers with --cpus and --memory "+
			"(TestRuntimeMemoryLimitFromCgroupFiles ran without Docker, on fake cgroup files)")
	}
	dir := t.TempDir()
	out, err := dockertest.GoBuild(ctx, dockertest.Overlay(t, sources, "."),
		[]string{"CGO_ENABLED=0", "GOOS=linux"}, []string{"-trimpath", "-ldflags=-s -w"},
		filepath.Join(dir, "limits"), limitsPkg)
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", limitsPkg, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(limitsDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := dockertest.Name("10-runtime") + ":test"
	if err := dockertest.BuildImage(t, ctx, dir, tag); err != nil {
		t.Fatalf("docker build: %v", err)
	}

	tests := []struct {
		name     string
		args     []string
		limit    int64 // want GOMEMLIMIT = Fraction of it; 0: see gomemlimit
		memlimit int64 // exact GOMEMLIMIT wanted when limit is 0
		sources  []Source
		cpus     int // the CPU limit, 0 for none
		procs    int // GOMAXPROCS set by the operator (-e GOMAXPROCS), 0 for none
		why      string
	}{
		{
			name:    "1 CPU and 128 MiB",
			args:    []string{"--cpus", "1", "--memory", "128m"},
			limit:   128 * mib,
			sources: []Source{FromCgroupV2, FromCgroupV1},
			cpus:    1,
			why:     "the soft limit must come from the container's memory limit, with headroom",
		},
		{
			name:     "128 MiB and an explicit GOMEMLIMIT",
			args:     []string{"--memory", "128m", "-e", "GOMEMLIMIT=32MiB"},
			memlimit: 32 * mib,
			sources:  []Source{FromEnv},
			why:      "an explicit GOMEMLIMIT is the operator's decision and must stay in effect",
		},
		{
			name:    "128 MiB and an explicit GOMAXPROCS",
			args:    []string{"--memory", "128m", "-e", "GOMAXPROCS=1"},
			limit:   128 * mib,
			sources: []Source{FromCgroupV2, FromCgroupV1},
			procs:   1,
			why:     "the soft limit must come from the container's memory limit, with headroom",
		},
		{
			name:     "no limits",
			memlimit: math.MaxInt64,
			sources:  []Source{NoLimit},
			why:      "a container without a memory limit keeps the runtime's default, no limit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := dockertest.Name("10-runtime")
			dockertest.RemoveContainer(t, name)
			args := append([]string{"run", "--name", name, "--read-only"}, tt.args...)
			start := time.Now()
			out, err := dockertest.Docker(ctx, append(args, tag)...)
			if err != nil {
				t.Fatalf("%v\nwant cmd/limits to print its settings: does MemoryLimit return an error on the "+
					"container's real cgroup files?", err)
			}
			var s Settings
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("cmd/limits printed %q: %v", out, err)
			}
			t.Logf("docker run %v (%v): GOMAXPROCS=%d (NumCPU %d), GOMEMLIMIT=%d (%.1f MiB), source %q",
				tt.args, time.Since(start).Round(time.Millisecond), s.GOMAXPROCS, s.NumCPU, s.GOMEMLIMIT,
				float64(s.GOMEMLIMIT)/mib, s.Source)

			want := tt.memlimit
			if tt.limit > 0 {
				want = int64(float64(tt.limit) * Fraction)
			}
			okSource := false
			for _, src := range tt.sources {
				okSource = okSource || s.Source == src
			}
			if !okSource || !near(s.GOMEMLIMIT, want) {
				t.Errorf("docker run %v: GOMEMLIMIT = %d from %q, want %d from one of %q: %s",
					tt.args, s.GOMEMLIMIT, s.Source, want, tt.sources, tt.why)
			}

			// Go 1.25+: GOMAXPROCS defaults to the CPU limit rounded up, at least 2, at most NumCPU.
			wantProcs := s.NumCPU
			if tt.cpus > 0 {
				wantProcs = min(s.NumCPU, max(2, tt.cpus))
			}
			if tt.procs > 0 {
				wantProcs = tt.procs
				if s.GOMAXPROCS != wantProcs {
					t.Errorf("docker run %v: GOMAXPROCS = %d, want %d: an explicit GOMAXPROCS is the operator's "+
						"decision and the runtime applied it at startup; Apply must not set GOMAXPROCS", tt.args,
						s.GOMAXPROCS, wantProcs)
				}
			} else if s.GOMAXPROCS != wantProcs {
				t.Errorf("docker run %v: GOMAXPROCS = %d, want %d (NumCPU %d, CPU limit %d): since Go 1.25 the runtime "+
					"follows the cgroup CPU limit (GODEBUG containermaxprocs); leave GOMAXPROCS alone",
					tt.args, s.GOMAXPROCS, wantProcs, s.NumCPU, tt.cpus)
			}
		})
	}
}
