// Package dockertest is what the image and runtime tests share: it builds a Go program from the same source the
// test binary was compiled from (solutions are applied with `go test -overlay`, which a nested `go build` does not
// see), builds a FROM scratch image from it, runs containers and removes everything it created.
//
// It never pulls an image: callers check the Dockerfile's FROM lines first, and only FROM scratch is built.
// Without a Docker engine, Unavailable fails the test with infra.UnavailablePrefix, which labctl reports as an
// infrastructure error: a check that could not run is never reported as passed.
package dockertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/infra"
)

// commandTimeout bounds one docker or go command. A go build of the HTTP server compiles the standard library
// once per set of flags and build cache: about 30 s of CPU, measured at over 3 minutes of wall time on two cores
// shared with other builds. Later builds hit the cache (2 s), and an image build of FROM scratch + COPY takes
// 2-3 s. The bound only turns a hang into a clear failure.
const commandTimeout = 8 * time.Minute

// Available reports why no Docker engine can be used, or nil.
func Available(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("no docker command on PATH: install Docker (on Debian: apt-get install docker.io) and start it")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("the Docker engine does not answer (`docker version`: %v: %s): start it (dockerd, Docker Desktop)",
			err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Unavailable fails the test as "infrastructure unavailable", naming what could not be checked.
func Unavailable(t testing.TB, why error, notChecked string) {
	t.Helper()
	t.Fatalf("%s docker: %v; NOT checked: %s", infra.UnavailablePrefix, why, notChecked)
}

// Name returns a unique name for an image or container of the given exercise: lab-<exercise>-<random>.
func Name(exercise string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lab-" + exercise + "-" + hex.EncodeToString(b)
}

// Overlay writes a `go build -overlay` file that replaces the Go files of the package in dir (the test's own
// package directory) with the ones in src (the package's *.go files embedded into the test binary, which are
// the solution's when the test runs under labctl's overlay). It returns the overlay file's path.
func Overlay(t testing.TB, src embed.FS, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		t.Fatalf("dockertest: read embedded sources: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := src.ReadFile(name)
		if err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		replace[filepath.Join(abs, name)] = p
	}
	b, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	p := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return p
}

// GoBuild runs `go build -overlay overlay <flags> -o out pkg` with env after the machine's environment (later
// entries win) and returns the combined output and the error.
func GoBuild(ctx context.Context, overlay string, env, flags []string, out, pkg string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	args := append([]string{"build", "-overlay", overlay}, flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(withoutGOFLAGS(os.Environ()), env...)
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(b), fmt.Errorf("go build still running after %v", commandTimeout)
	}
	return string(b), err
}

// withoutGOFLAGS drops GOFLAGS: flags meant for the test run (-race, -count) are not the build's.
func withoutGOFLAGS(env []string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// Docker runs a docker command and returns its trimmed stdout; the error carries stderr.
func Docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Logs returns what the container wrote, stdout and stderr interleaved as `docker logs` replays them (a server
// logs to stderr, which Docker only returns on its own stderr).
func Logs(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "logs", name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("docker logs %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out))
}

// BuildImage builds the image tag from the context directory dir (never pulling) and removes it at cleanup.
// The caller has checked that the Dockerfile only uses FROM scratch.
func BuildImage(t testing.TB, ctx context.Context, dir, tag string) error {
	t.Helper()
	t.Cleanup(func() { _, _ = Docker(context.Background(), "rmi", "-f", tag) })
	_, err := Docker(ctx, "build", "--pull=false", "-q", "-t", tag, dir)
	return err
}

// RemoveContainer removes the named container at cleanup, running or not.
func RemoveContainer(t testing.TB, name string) {
	t.Cleanup(func() { _, _ = Docker(context.Background(), "rm", "-f", "-v", name) })
}
