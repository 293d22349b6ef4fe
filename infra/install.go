package infra

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ConsulVersion is the Consul that InstallConsul builds. It is not in Debian, and no release binary can be
// downloaded here, but its source is on the Go module proxy.
const ConsulVersion = "v1.20.6"

// consulSubmodules are replaced by relative paths in Consul's go.mod; a module-cache copy has no such
// directories, so the build uses their published versions instead.
var consulSubmodules = []string{"api", "envoyextensions", "proto-public", "sdk", "troubleshoot"}

// InstallConsul builds Consul from the Go module proxy into ConsulCachePath and returns the path. It does
// nothing when a binary is already there, unless force. The build takes minutes on two cores; progress lines
// (one per package compiled) go to logf.
func InstallConsul(ctx context.Context, force bool, logf func(string, ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dst := ConsulCachePath()
	if _, err := os.Stat(dst); err == nil && !force {
		logf("consul already built: %s", dst)
		return dst, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building Consul needs the go command: %w", err)
	}
	module := "github.com/hashicorp/consul@" + ConsulVersion
	logf("downloading %s from the module proxy", module)
	out, err := exec.CommandContext(ctx, goBin, "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, errorOutput(err))
	}
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in %q (%s)", module, out, dl.Error)
	}
	work, err := os.MkdirTemp("", "microlab-consul-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "consul")
	logf("copying the source to %s", src)
	if err := copyTree(dl.Dir, src); err != nil {
		return "", fmt.Errorf("copy Consul source: %w", err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	edit := []string{"mod", "edit"}
	for _, m := range consulSubmodules {
		edit = append(edit, "-dropreplace=github.com/hashicorp/consul/"+m)
	}
	if err := run(ctx, src, env, nil, goBin, edit...); err != nil {
		return "", fmt.Errorf("go mod edit: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp := dst + ".tmp"
	logf("building (CGO_ENABLED=0 go build); this takes a few minutes")
	begin := time.Now()
	if err := run(ctx, src, env, buildProgress(begin, logf), goBin, "build", "-v", "-trimpath", "-o", tmp, "."); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build consul: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	logf("built %s in %s", dst, time.Since(begin).Round(time.Second))
	return dst, nil
}

// buildProgress returns a line handler for `go build -v` that logs every 100th package compiled.
func buildProgress(begin time.Time, logf func(string, ...any)) func(string) {
	packages, modules := 0, 0
	return func(line string) {
		if strings.HasPrefix(line, "go: downloading") {
			modules++
			return
		}
		packages++
		if packages%100 == 0 {
			logf("  %s: %d packages compiled, %d modules downloaded; now %s", time.Since(begin).Round(time.Second), packages, modules, line)
		}
	}
}

// run runs a command in dir; stderr lines go to each (go build -v prints package names there), and the last
// ones are kept for the error.
func run(ctx context.Context, dir string, env []string, each func(string), name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = childAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) } // go build's compilers too
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	var tail []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if len(tail) > 30 {
			tail = tail[1:]
		}
		if each != nil {
			each(line)
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.Join(tail, "\n"))
	}
	return nil
}

func errorOutput(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
