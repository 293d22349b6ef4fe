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
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
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
	// TODO(10-image): return the variables ("NAME=value") for a static Linux binary. The build machine may have
	// a C compiler (then cgo is on by default), and scratch has no C library.
	return nil
}

// BuildFlags returns the arguments that go between `go build` and `-o <out> <package>`. Each element is one
// argument: no shell splits or unquotes them.
func BuildFlags() []string {
	// TODO(10-image): return the flags for a binary without the build machine's paths, symbol table or DWARF.
	return nil
}

// Dockerfile returns the Dockerfile. The build context holds it and the binary, named Binary.
func Dockerfile() string {
	// TODO(10-image): FROM scratch (nothing may be pulled), copy Binary to /Binary, run as UID (not root), and
	// start /Binary.
	return ""
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
	// TODO(10-image): listen on Port so that a port published by Docker reaches the server, log where it listens
	// to logw, serve Handler() until ctx ends, then shut down. The root filesystem is read-only.
	return errors.New("TODO(10-image): Serve is not implemented")
}
