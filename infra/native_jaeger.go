package infra

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A native Jaeger is the jaeger binary (v2) that InstallJaeger builds from the Go module proxy, run as
// all-in-one with in-memory storage from a config file in its work directory, every listener on a free
// 127.0.0.1 port.

// EnvJaegerBin names a Jaeger v2 binary to use instead of the one on PATH or in the cache.
const EnvJaegerBin = "LAB_JAEGER_BIN"

// JaegerCachePath is where `labctl infra install jaeger` puts the Jaeger it builds: $HOME/.cache/microlab/bin/jaeger.
func JaegerCachePath() string { return filepath.Join(filepath.Dir(ConsulCachePath()), "jaeger") }

func findJaeger() (string, error) {
	if p, set, err := binFromEnv(EnvJaegerBin); set {
		return p, err
	}
	// The cache first: a jaeger on PATH may be a v1 binary, which takes other flags.
	p, err := findBinary([]string{"jaeger"}, filepath.Dir(JaegerCachePath()))
	if cached := JaegerCachePath(); fileExecutable(cached) {
		return cached, nil
	}
	if err != nil {
		return "", fmt.Errorf("no jaeger binary (run `go run ./labctl infra install jaeger`, about 5 minutes on two cores): %w", err)
	}
	return p, nil
}

func fileExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// jaegerStopGrace is how long a native Jaeger gets after SIGTERM: it often takes longer than that to exit, and its
// in-memory storage has nothing to save, so it is then killed.
const jaegerStopGrace = 2 * time.Second

func startNativeJaeger(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	bin, err := findJaeger()
	if err != nil {
		return nil, err
	}
	dir, err := newWorkDir(JaegerService)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	conf := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(conf, []byte(jaegerConfig(ports[0], ports[1], ports[2], ports[3], ports[4])), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	p, err := startProcWith(procOptions{grace: jaegerStopGrace}, dir, "jaeger.log", bin, "--config", conf)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	grpcAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	query := jaegerQueryURL(net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])))
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.waitReady(readyCtx, func(ctx context.Context) error {
		_, err := jaegerVersion(ctx, grpcAddr, query)
		return err
	}); err != nil {
		_ = p.stop(context.Background())
		_ = os.RemoveAll(dir)
		if strings.Contains(p.tail(), "bind: address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, err
	}
	return &Instance{
		Service: JaegerService, Provider: ProviderNative, Addr: grpcAddr,
		Extra:   map[string]string{extraOTLPHTTP: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])), extraQueryURL: query},
		Version: "Jaeger " + binaryVersion(bin, "github.com/jaegertracing/jaeger", JaegerVersion), Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(p.stop(ctx), os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid, dir: dir,
	}, nil
}

// binaryVersion returns the version of module mod recorded in the Go binary bin, or fallback.
func binaryVersion(bin, mod, fallback string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fallback
	}
	if bi.Main.Path == mod && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == mod {
			return d.Version
		}
	}
	return fallback
}

// InstallJaeger builds Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger at JaegerVersion) from the Go
// module proxy into JaegerCachePath and returns the path. It does nothing when a binary is already there,
// unless force. The build takes about 5 minutes on two idle cores (35 minutes were measured with a load of
// about 30 on two cores) and gives a static binary of about 120 MB;
// progress lines go to logf.
func InstallJaeger(ctx context.Context, force bool, logf func(string, ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dst := JaegerCachePath()
	if _, err := os.Stat(dst); err == nil && !force {
		logf("jaeger already built: %s", dst)
		return dst, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building Jaeger needs the go command: %w", err)
	}
	work, err := os.MkdirTemp("", "microlab-jaeger-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if err := run(ctx, work, env, nil, goBin, "mod", "init", "microlab.local/jaeger-build"); err != nil {
		return "", fmt.Errorf("go mod init: %w", err)
	}
	const pkg = "github.com/jaegertracing/jaeger/cmd/jaeger"
	logf("resolving %s@%s and its modules on the module proxy", pkg, JaegerVersion)
	if err := run(ctx, work, env, nil, goBin, "get", "-tool", pkg+"@"+JaegerVersion); err != nil {
		return "", fmt.Errorf("go get %s: %w", pkg, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp := dst + ".tmp"
	logf("building (CGO_ENABLED=0 go build); this takes about 5 minutes on two idle cores, much longer on a busy machine")
	begin := time.Now()
	if err := run(ctx, work, env, buildProgress(begin, logf), goBin, "build", "-v", "-trimpath", "-o", tmp, pkg); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("go build jaeger: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	logf("built %s in %s", dst, time.Since(begin).Round(time.Second))
	return dst, nil
}
