package infra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Native servers keep their files under workRoot, one directory per server named <service>-<owner pid>-<random>.
// A server dies with the process that started it (see childAttr), but nothing removes its directory when a test
// binary is killed; so every new start first sweeps the directories whose owner process is gone.
func workRoot() string { return filepath.Join(os.TempDir(), "microlab-infra") }

// newWorkDir makes a fresh directory for one server of svc, owned by this process.
func newWorkDir(svc Service) (string, error) {
	root := workRoot()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("make %s: %w", root, err)
	}
	sweepStale(root)
	dir, err := os.MkdirTemp(root, fmt.Sprintf("%s-%d-", svc, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("make work directory: %w", err)
	}
	return dir, nil
}

// ownerPID returns the pid encoded in a work directory name, or 0 if the name is not one of ours.
func ownerPID(name string) int {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return 0
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0
	}
	return pid
}

// pidFile, in a server's work directory, holds the pid (and process group) of the server, so that a sweep can
// stop a server whose owner died without stopping it (where no parent-death signal did it: not Linux).
const pidFile = "server.pid"

// sweepStale removes work directories whose owner process no longer exists, after stopping the server still
// running there, if any.
func sweepStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if pid := ownerPID(e.Name()); pid > 0 && !pidAlive(pid) {
			dir := filepath.Join(root, e.Name())
			if data, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
				// runsIn guards against a pid the kernel has given to another process since.
				if server, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && server > 0 && pidAlive(server) && runsIn(server, dir) {
					_ = killGroup(server)
				}
			}
			_ = os.RemoveAll(dir)
		}
	}
}

// proc is a server process started by this package.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	grace   time.Duration // see procOptions
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
}

// startProc starts bin in dir with its output in dir/<logName>. The process is not tied to a context:
// it lives until stop, or until this process dies.
func startProc(dir, logName, bin string, args ...string) (*proc, error) {
	return startProcWith(procOptions{}, dir, logName, bin, args...)
}

// procOptions adjusts how startProcWith starts a server.
type procOptions struct {
	user serverUser // run as this user (see unprivilegedUser); the zero value is this process's user
	env  []string   // added to this process's environment (later entries win)
	// grace is how long stop waits after SIGTERM before it kills the process group; 0 means 5 s.
	grace time.Duration
}

// startProcWith is startProc with options.
func startProcWith(o procOptions, dir, logName, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, logName)
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if o.env != nil {
		cmd.Env = append(os.Environ(), o.env...)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = o.user.apply(childAttr())
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644) // best effort: for sweepStale
	p := &proc{cmd: cmd, logPath: logPath, grace: o.grace, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process group to end, then kills it if it has not ended in time or ctx is done.
func (p *proc) stop(ctx context.Context) error {
	if p.exited() {
		return nil
	}
	_ = terminateGroup(p.cmd.Process.Pid)
	wait := p.grace
	if wait == 0 {
		wait = 5 * time.Second
	}
	grace := time.NewTimer(wait)
	defer grace.Stop()
	select {
	case <-p.done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	if err := killGroup(p.cmd.Process.Pid); err != nil && !p.exited() {
		return fmt.Errorf("kill %s: %w", p.cmd.Path, err)
	}
	<-p.done
	return nil
}

// tail returns the end of the process output, for error messages.
func (p *proc) tail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 1500
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// beforeReadyHook, when set (by tests only), runs before waitReady polls: it holds a start half-way.
var beforeReadyHook func()

// waitReady polls probe until it succeeds, the process exits, or ctx ends.
func (p *proc) waitReady(ctx context.Context, probe func(context.Context) error) error {
	if beforeReadyHook != nil {
		beforeReadyHook()
	}
	var last error
	for {
		if p.exited() {
			tail := p.tail()
			err := fmt.Errorf("%s exited during start (%v); its output ends with:\n%s", filepath.Base(p.cmd.Path), p.waitErr, tail)
			if strings.Contains(strings.ToLower(tail), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		}
		probeCtx, cancel := context.WithTimeout(ctx, time.Second)
		last = probe(probeCtx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %v)", filepath.Base(p.cmd.Path), ctx.Err(), last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// freePorts asks the kernel for n distinct ports that are free on 127.0.0.1 for TCP and for UDP (Consul's DNS
// and Serf ports bind both). It holds every socket until all n are chosen, so that no port is given twice.
// Another process can still take a port before the server binds it; retryPortTaken covers that.
func freePorts(n int) ([]int, error) {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 20*n {
			return nil, fmt.Errorf("find %d free ports on 127.0.0.1: only %d after %d tries", n, len(ports), tries)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // busy for UDP: keep the TCP socket held so that the kernel offers another port
		}
		held = append(held, u)
		ports = append(ports, port)
	}
	return ports, nil
}

// freePort returns one port that freePorts would give.
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// errPortTaken means that a server exited during its start because another process bound a port picked for it
// between freePorts and the server's own bind.
var errPortTaken = errors.New("a port picked for the server was taken meanwhile")

// retryPortTaken calls start, which picks its ports afresh on every call, up to three times while it fails
// with errPortTaken.
func retryPortTaken(start func() (*Instance, error)) (*Instance, error) {
	for attempt := 1; ; attempt++ {
		inst, err := start()
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return inst, err
		}
	}
}

// findBinary looks for the first of names on PATH and then in extra directories.
func findBinary(names []string, extraDirs ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	for _, d := range extraDirs {
		for _, n := range names {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("none of %s found on PATH or in %s: %w", strings.Join(names, ", "), strings.Join(extraDirs, ", "), errNotInstalled)
}

var errNotInstalled = errors.New("not installed")

// binFromEnv returns the binary that the environment variable env names (LAB_ETCD_BIN, ...), when it is set:
// it then wins over any search, and a path that does not exist is an error, not a fallback.
func binFromEnv(env string) (path string, set bool, err error) {
	p := os.Getenv(env)
	if p == "" {
		return "", false, nil
	}
	if _, err := os.Stat(p); err != nil {
		return "", true, fmt.Errorf("%s=%s: %w", env, p, err)
	}
	return p, true, nil
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// storeTemplate moves a freshly initialised data directory to final, where later starts copy it from. If another
// process stored one there first, its copy wins and this one is dropped with its build directory.
func storeTemplate(data, final string) (string, error) {
	if err := os.Rename(data, final); err != nil {
		if st, statErr := os.Stat(final); statErr == nil && st.IsDir() {
			return final, nil // another process won the race
		}
		return "", fmt.Errorf("store data-directory template: %w", err)
	}
	return final, nil
}

// workDirFromTemplate makes a fresh work directory for svc with a copy of the template tmpl as its data
// subdirectory, and returns both paths. Nothing is left behind on error.
func workDirFromTemplate(svc Service, tmpl string) (dir, data string, err error) {
	if dir, err = newWorkDir(svc); err != nil {
		return "", "", err
	}
	data = filepath.Join(dir, "data")
	if err := copyTree(tmpl, data); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("copy %s template: %w", svc, err)
	}
	return dir, data, nil
}
