// Package image ships the orders service the way it runs in production: a static Linux binary, trimmed of
// everything a machine does not need, in an image that holds nothing else (FROM scratch), running as a
// non-root user on a read-only root filesystem.
//
// The Dockerfile and the build settings are Go values here, so that the tests can use exactly what you wrote:
// they build ../cmd/imaged with BuildEnv and BuildFlags, put the binary and Dockerfile() in a build context,
// run `docker build`, and run the image with --read-only to send it a request.
package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

const (
	// Binary is the server's file name in the build context. The image runs it as "/" + Binary.
	Binary = "server"
	// Port is the port the server listens on inside the container.
	Port = 8080
	// UID is the non-root user and group the image runs as: 65532 is "nonroot" in the distroless images.
	// FROM scratch has no /etc/passwd, so the user must be given as a number.
	UID = 65532
)

// BuildEnv returns the environment that `go build` needs, on top of the build machine's, for a binary that
// runs in FROM scratch.
func BuildEnv() []string {
	// CGO_ENABLED=0: with cgo, net and os/user link the C library dynamically, and scratch has no libc and no
	// dynamic loader. GOOS=linux: the container is Linux even when the build machine is a Mac.
	return []string{"CGO_ENABLED=0", "GOOS=linux"}
}

// BuildFlags returns the arguments that go between `go build` and `-o <out> <package>`. Each element is one
// argument: no shell splits or unquotes them.
func BuildFlags() []string {
	// -trimpath: no path of the build machine in the binary (reproducible builds, nothing leaked).
	// -s -w: no symbol table and no DWARF; panics still print file:line (that comes from pclntab).
	return []string{"-trimpath", "-ldflags=-s -w"}
}

// Dockerfile returns the Dockerfile. The build context holds it and the binary, named Binary.
func Dockerfile() string {
	// scratch is an empty image: nothing to pull, nothing to patch, nothing for an attacker to use. A numeric
	// USER because scratch has no /etc/passwd to look a name up in.
	return fmt.Sprintf(`FROM scratch
COPY %[1]s /%[1]s
USER %[2]d:%[2]d
EXPOSE %[3]d
ENTRYPOINT ["/%[1]s"]
`, Binary, UID, Port)
}

// Info is what GET / answers: who the process runs as and what the Go runtime picked.
type Info struct {
	UID        int   `json:"uid"`
	GOMAXPROCS int   `json:"gomaxprocs"`
	NumCPU     int   `json:"num_cpu"`
	GOMEMLIMIT int64 `json:"gomemlimit"`
}

// Handler answers GET / with Info and GET /healthz with 200.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Info{
			UID:        os.Getuid(),
			GOMAXPROCS: runtime.GOMAXPROCS(0),
			NumCPU:     runtime.NumCPU(),
			GOMEMLIMIT: debug.SetMemoryLimit(-1),
		})
	})
	return mux
}

// Serve serves Handler on Port until ctx ends, then shuts down and returns nil. It logs to logw.
func Serve(ctx context.Context, logw io.Writer) error {
	// All interfaces: inside a container 127.0.0.1 is the container's own loopback, and a published port
	// arrives on the container's network interface.
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Logs go to a stream (stderr in main), never to a file: the root filesystem is read-only, and
	// `docker logs` / `kubectl logs` read the stream.
	fmt.Fprintf(logw, "listening on %s as uid %d\n", ln.Addr(), os.Getuid())
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
