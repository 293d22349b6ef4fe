package image

import (
	"bytes"
	"context"
	"debug/elf"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/10-deploy/internal/dockertest"
)

// sources is this package's Go code as the test binary was compiled from it (a solution applied with
// `go test -overlay` included): the server the tests build must run the same code.
//
//go:embed *.go
var sources embed.FS

// serverPkg is the command the tests build with BuildEnv and BuildFlags and put in the image.
const serverPkg = "github.com/gomicrolab/microlab/chapters/10-deploy/cmd/imaged"

// maxImageBytes bounds the image: the stripped server is about 5-6 MB on amd64 and arm64, and a FROM scratch
// image holds nothing else. A base OS image, or a binary with symbols and DWARF, goes well past it.
const maxImageBytes = 12 << 20

// built is the server binary, built once per test process with the learner's settings.
var built struct {
	once sync.Once
	path string
	out  string
	err  error
}

// buildMachine is the environment the build starts from: a developer's Mac with a C compiler (Xcode's), where
// cgo is on and go build makes macOS binaries unless BuildEnv says otherwise. The architecture stays this
// machine's, so that the image runs on its Docker engine.
var buildMachine = []string{"CGO_ENABLED=1", "GOOS=darwin"}

// buildServer builds cmd/imaged as BuildEnv and BuildFlags say, starting from buildMachine.
func buildServer(t *testing.T) string {
	t.Helper()
	if len(BuildEnv()) == 0 {
		t.Fatalf("BuildEnv() = [], want the environment of a static Linux build: TODO(10-image) is not done")
	}
	if len(BuildFlags()) == 0 {
		t.Fatalf("BuildFlags() = [], want the flags of a trimmed build: TODO(10-image) is not done")
	}
	built.once.Do(func() {
		built.err = fmt.Errorf("the build stopped early") // until it finishes
		dir, err := os.MkdirTemp("", "lab-10-image-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, Binary)
		overlay := dockertest.Overlay(t, sources, ".")
		env := append(append([]string{}, buildMachine...), BuildEnv()...)
		built.out, built.err = dockertest.GoBuild(context.Background(), overlay, env, BuildFlags(), built.path, serverPkg)
	})
	if built.err != nil {
		t.Fatalf("go build %s -o %s %s with env %q after %q: %v\n%s\nwant a successful build: check BuildEnv and "+
			"BuildFlags (each element is one argument, no shell quoting: \"-ldflags=-s -w\")",
			strings.Join(BuildFlags(), " "), Binary, serverPkg, BuildEnv(), buildMachine, built.err, built.out)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		_ = os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// TestImageDockerfileUsesOnlyScratch checks the FROM lines before anything is built: a base image would be
// pulled, and nothing may be pulled here (no registry is reachable, and a static Go binary needs no base).
func TestImageDockerfileUsesOnlyScratch(t *testing.T) {
	if err := checkFrom(Dockerfile()); err != nil {
		t.Fatalf("Dockerfile(): %v", err)
	}
}

// checkFrom returns an error for every FROM that names an image other than scratch or an earlier stage.
func checkFrom(dockerfile string) error {
	if strings.TrimSpace(dockerfile) == "" {
		return fmt.Errorf("empty, want a Dockerfile FROM scratch: TODO(10-image) is not done")
	}
	stages := map[string]bool{}
	froms := 0
	for i, line := range strings.Split(dockerfile, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		froms++
		args := fields[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "--") { // --platform=...
			args = args[1:]
		}
		if len(args) == 0 {
			return fmt.Errorf("line %d %q names no image", i+1, line)
		}
		img := strings.ToLower(args[0])
		if img != "scratch" && !stages[img] {
			return fmt.Errorf("line %d is %q, want FROM scratch: %s would be pulled from a registry (none is "+
				"reachable here, and in production it is one more thing to patch); build the static binary outside "+
				"and COPY it into an empty image", i+1, strings.TrimSpace(line), args[0])
		}
		if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
			stages[strings.ToLower(args[2])] = true
		}
	}
	if froms == 0 {
		return fmt.Errorf("no FROM line, want FROM scratch")
	}
	return nil
}

// TestImageBinaryIsStatic checks the built binary with debug/elf: no program interpreter (the dynamic loader,
// /lib64/ld-linux-*.so) and no shared libraries. FROM scratch has neither, so a dynamic binary cannot start:
// `exec /server: no such file or directory`, although the file is there.
func TestImageBinaryIsStatic(t *testing.T) {
	f := openELF(t, buildServer(t))
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := readAll(p.Open())
			t.Errorf("the binary has a program interpreter %q, want a static binary: cgo linked the C library "+
				"dynamically (BuildEnv must turn cgo off), and scratch has no dynamic loader",
				strings.TrimRight(string(interp), "\x00"))
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("read the binary's dynamic section: %v", err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %q, want none: scratch has no C library", libs)
	}
}

// TestImageBinaryIsTrimmed checks that the binary carries neither the build machine's paths nor a symbol table
// or DWARF: paths leak the build machine's layout and make builds irreproducible, symbols and DWARF are
// megabytes no production process reads (panics print file:line from pclntab without them).
func TestImageBinaryIsTrimmed(t *testing.T) {
	path := buildServer(t)
	f := openELF(t, path)
	if f.Section(".symtab") != nil {
		t.Errorf("the binary has a .symtab section, want it stripped: link with -s (in -ldflags)")
	}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("the binary has DWARF (%s), want none: link with -s -w (in -ldflags)", s.Name)
			break
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	module, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.Index(b, []byte(module+string(filepath.Separator))); i >= 0 {
		end := i + bytes.IndexByte(b[i:], 0)
		if end <= i || end-i > 200 {
			end = i + len(module) + 40
		}
		t.Errorf("the binary contains the build machine's path %q, want module paths only: build with -trimpath",
			b[i:end])
	}
	t.Logf("server binary: %d bytes", len(b))
}

// TestImageRunsInDocker builds the image with `docker build` (FROM scratch, nothing pulled), measures it, and
// runs it the way a hardened Kubernetes pod does (read-only root filesystem, no capabilities), then sends a
// request through the published port.
func TestImageRunsInDocker(t *testing.T) {
	ctx := context.Background()
	if err := dockertest.Available(ctx); err != nil {
		dockertest.Unavailable(t, err, "the image build, its size, the user it runs as, its start on a read-only "+
			"root filesystem and the answer through the published port (TestImageBinaryIsStatic and "+
			"TestImageBinaryIsTrimmed ran without Docker)")
	}
	df := Dockerfile()
	if err := checkFrom(df); err != nil {
		t.Fatalf("Dockerfile(): %v; not building it", err)
	}
	bin := buildServer(t)

	dir := t.TempDir()
	copyFile(t, bin, filepath.Join(dir, Binary))
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := dockertest.Name("10-image") + ":test"
	start := time.Now()
	if err := dockertest.BuildImage(t, ctx, dir, tag); err != nil {
		t.Fatalf("docker build of Dockerfile():\n%s\nfailed: %v", df, err)
	}
	t.Logf("docker build took %v", time.Since(start).Round(time.Millisecond))

	inspect, err := dockertest.Docker(ctx, "image", "inspect", "--format", "{{.Size}}|{{.Config.User}}", tag)
	if err != nil {
		t.Fatal(err)
	}
	sizeText, user, _ := strings.Cut(inspect, "|")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil {
		t.Fatalf("image size %q: %v", sizeText, err)
	}
	t.Logf("image %s: %d bytes (%.1f MiB), USER %q", tag, size, float64(size)/(1<<20), user)
	if size > maxImageBytes {
		t.Errorf("image size = %d bytes, want at most %d: a static, stripped binary in FROM scratch needs nothing else",
			size, maxImageBytes)
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("image USER = %q, want a non-root numeric user such as %d: a process that breaks out of a root "+
			"container is root on the node", user, UID)
	}

	name := dockertest.Name("10-image")
	dockertest.RemoveContainer(t, name)
	if _, err := dockertest.Docker(ctx, "run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL",
		"--security-opt", "no-new-privileges", "-p", fmt.Sprintf("127.0.0.1::%d", Port), tag); err != nil {
		t.Fatalf("docker run %s: %v", tag, err)
	}
	addr := publishedAddr(t, ctx, name)
	info := getInfo(t, ctx, name, "http://"+addr+"/")
	t.Logf("GET / in the container: %+v", info)
	if info.UID == 0 {
		t.Errorf("the server runs as uid 0, want a non-root user (USER %d:%d in the Dockerfile)", UID, UID)
	}
	stopCleanly(t, ctx, name)
}

// stopGrace is how long `docker stop` waits after SIGTERM before it sends SIGKILL (Kubernetes waits
// terminationGracePeriodSeconds, 30 s by default). An idle server shuts down within milliseconds; the bound is
// generous for a loaded machine.
const stopGrace = 30 * time.Second

// stopCleanly stops the container the way a rolling update does (SIGTERM, then SIGKILL after stopGrace) and
// checks that the server ended by itself, with exit status 0.
func stopCleanly(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	start := time.Now()
	if _, err := dockertest.Docker(ctx, "stop", "--time", strconv.Itoa(int(stopGrace.Seconds())), name); err != nil {
		t.Fatalf("docker stop %s: %v", name, err)
	}
	took := time.Since(start).Round(time.Millisecond)
	code, err := dockertest.Docker(ctx, "inspect", "--format", "{{.State.ExitCode}}", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker stop (SIGTERM) took %v, exit status %s", took, code)
	if code != "0" {
		t.Errorf("docker stop (SIGTERM): the server exited with status %s after %v, want 0: when ctx ends Serve must "+
			"shut down and return nil (137 = it ignored SIGTERM and was killed after %v; 1 = Serve returned an error, "+
			"such as http.ErrServerClosed after a clean Shutdown, and a clean stop is not a failure)\n%s",
			code, took, stopGrace, containerState(ctx, name))
	}
}

// publishedAddr returns the loopback address Docker published the container's Port on.
func publishedAddr(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	out, err := dockertest.Docker(ctx, "port", name, fmt.Sprintf("%d/tcp", Port))
	if err != nil {
		t.Fatalf("%v\n%s", err, containerState(ctx, name))
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "127.0.0.1:") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("docker port %s = %q, want a 127.0.0.1 address", name, out)
	return ""
}

// answerTimeout is how long the container gets to answer. A static Go server answers within milliseconds of
// its start; the bound is generous for a loaded machine and only turns "never" into a clear failure.
const answerTimeout = 20 * time.Second

// getInfo sends GET url until the server answers, failing early with the container's logs when it exits.
func getInfo(t *testing.T, ctx context.Context, name, url string) Info {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(answerTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			var info Info
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return info
			}
			lastErr = fmt.Errorf("status %d, decode: %v", resp.StatusCode, err)
		} else {
			lastErr = err
		}
		if running, _ := dockertest.Docker(ctx, "inspect", "--format", "{{.State.Running}}", name); running == "false" {
			t.Fatalf("the container exited before answering, want it serving on a read-only root filesystem as a "+
				"non-root user:\n%s", containerState(ctx, name))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s through the published port: no answer within %v (last: %v), want 200: inside a container the "+
		"server must listen on all interfaces (\":%d\"), 127.0.0.1 is the container's own loopback\n%s",
		url, answerTimeout, lastErr, Port, containerState(ctx, name))
	return Info{}
}

// containerState describes how the container ended and what it logged.
func containerState(ctx context.Context, name string) string {
	state, _ := dockertest.Docker(ctx, "inspect", "--format",
		"status={{.State.Status}} exit={{.State.ExitCode}} error={{.State.Error}}", name)
	return fmt.Sprintf("container %s: %s\nlogs:\n%s", name, state, dockertest.Logs(ctx, name))
}

func openELF(t *testing.T, path string) *elf.File {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("open %s as ELF: %v, want a Linux binary: the build started from %q, as on a Mac, and a container "+
			"runs Linux binaries only (BuildEnv must set GOOS=linux)", path, err, buildMachine)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
