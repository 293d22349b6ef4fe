package runner

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// ErrNoGoToolchain means there is no `go` command to run the tests with.
var ErrNoGoToolchain = errors.New("go toolchain not found in PATH (install Go 1.26 or later: https://go.dev/dl/)")

// ErrGoTest means `go test` failed before it could report any test (bad flags, a broken go.mod, ...).
var ErrGoTest = errors.New("go test could not run")

// Runner runs `go test -json` in one module.
type Runner struct {
	Dir     string        // the module directory, chapters/
	Go      string        // the go command; "" looks up "go" in PATH
	Env     []string      // extra environment for every run, after os.Environ()
	Timeout time.Duration // go test -timeout; 0 keeps go's default
}

// Request is one `go test` invocation.
type Request struct {
	Packages []string // relative to Dir, "./00-x/cancel"
	Run      string   // -run regexp over top-level tests; "" runs all
	Overlay  string   // path of a -overlay JSON file, or ""
	Env      []string // extra environment for this run
	NoCache  bool     // -count=1
	Race     bool     // -race (needs cgo and a C compiler)
	FailFast bool     // -failfast: stop at the first failing test
	// NoDWARF links the test binary without DWARF debug info (-ldflags=-w), which makes the link, the
	// largest part of building a test binary, markedly cheaper. Stack traces, panics and race reports
	// still name every file and line: they come from the symbol and line tables, not from DWARF.
	NoDWARF bool
	Timeout time.Duration // -timeout for this run; 0 keeps the Runner's
}

// Run runs the request and returns what every package reported. Cancelling ctx kills go test and
// everything it started (its own process group); the partial report comes back with ctx's error.
func (r *Runner) Run(ctx context.Context, req Request, events chan<- Event) (*Report, error) {
	goBin, err := r.GoCommand()
	if err != nil {
		return nil, err
	}
	modPath, err := modulePath(r.Dir)
	if err != nil {
		return nil, err
	}
	rep := newReport(r.Dir, modPath, req.Packages)
	cmd := exec.CommandContext(ctx, goBin, r.args(req, rep)...)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), r.Env...), req.Env...)
	OwnProcessGroup(cmd)
	cmd.WaitDelay = 3 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("go test: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", goBin, err)
	}
	seen := r.consume(ctx, stdout, rep, events)
	waitErr := cmd.Wait()
	rep.finish()
	if ctx.Err() != nil {
		waitGroupGone(cmd, 3*time.Second) // the killed test binaries too, not only the go command
		return rep, ctx.Err()
	}
	var exit *exec.ExitError
	if waitErr != nil && (!errors.As(waitErr, &exit) || seen == 0) {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = waitErr.Error()
		}
		return rep, fmt.Errorf("%w: %s", ErrGoTest, msg)
	}
	rep.Stderr = stderr.String()
	return rep, nil
}

// GoCommand is the go command runs use; without one the error wraps ErrNoGoToolchain.
func (r *Runner) GoCommand() (string, error) {
	if r.Go != "" {
		return r.Go, nil
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoGoToolchain, err)
	}
	return p, nil
}

func (r *Runner) args(req Request, rep *Report) []string {
	args := []string{"test", "-json"}
	if req.Run != "" {
		args = append(args, "-run", req.Run)
	}
	if req.Overlay != "" {
		args = append(args, "-overlay", req.Overlay)
	}
	if t := cmp.Or(req.Timeout, r.Timeout); t > 0 {
		args = append(args, "-timeout", t.String())
	}
	if req.FailFast {
		args = append(args, "-failfast")
	}
	if req.NoCache {
		args = append(args, "-count=1")
	}
	if req.Race {
		args = append(args, "-race")
	}
	if req.NoDWARF {
		args = append(args, "-ldflags=-w")
	}
	for _, p := range req.Packages {
		args = append(args, rep.importPath(p))
	}
	return args
}

// consume decodes the JSON event stream until EOF and returns how many events it saw.
func (r *Runner) consume(ctx context.Context, out io.Reader, rep *Report, events chan<- Event) int {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	n := 0
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // not an event: go prints nothing else on stdout with -json, but be tolerant
		}
		n++
		rep.add(ev)
		if events != nil {
			select {
			case events <- Event{Package: rep.relPath(ev.pkg()), Test: ev.Test, Action: ev.Action, Output: ev.Output}:
			case <-ctx.Done():
			}
		}
	}
	_, _ = io.Copy(io.Discard, out)
	return n
}

// modulePath reads the module path from dir/go.mod.
func modulePath(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read the module file: %w", err)
	}
	p := modfile.ModulePath(data)
	if p == "" {
		return "", fmt.Errorf("%s: no module line", filepath.Join(dir, "go.mod"))
	}
	return p, nil
}

// limitedWriter keeps the first n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
