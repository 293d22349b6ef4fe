package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A native Prometheus is the distribution's prometheus binary (Debian's package, 2.42; Homebrew's) with its
// storage, its config and its scrape-target directory in a work directory of its own, listening on a free
// 127.0.0.1 port.

// EnvPrometheusBin names a prometheus binary to use instead of the one on PATH.
const EnvPrometheusBin = "LAB_PROMETHEUS_BIN"

func findPrometheus() (string, error) {
	if p, set, err := binFromEnv(EnvPrometheusBin); set {
		return p, err
	}
	p, err := findBinary([]string{"prometheus"}, "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")
	if err != nil {
		return "", fmt.Errorf("no prometheus (Debian/Ubuntu: apt-get install prometheus; macOS: brew install prometheus): %w", err)
	}
	return p, nil
}

// prometheusArgs is the command line of a Prometheus whose files live under dir (config and storage) and
// whose HTTP API listens on listen.
func prometheusArgs(conf, data, listen string) []string {
	return []string{
		"--config.file=" + conf,
		"--storage.tsdb.path=" + data,
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address=" + listen,
		"--log.level=info", // the Docker provider waits for its "Server is ready" line
	}
}

func startNativePrometheus(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	bin, err := findPrometheus()
	if err != nil {
		return nil, err
	}
	dir, err := newWorkDir(PrometheusService)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	sd := filepath.Join(dir, "targets")
	if err := os.Mkdir(sd, 0o755); err != nil {
		return fail(err)
	}
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(prometheusConfig(sd)), 0o644); err != nil {
		return fail(err)
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := startProc(dir, "prometheus.log", bin, prometheusArgs(conf, filepath.Join(dir, "data"), addr)...)
	if err != nil {
		return fail(err)
	}
	base := "http://" + addr
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := p.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = prometheusVersion(ctx, base)
		return err
	}); err != nil {
		_ = p.stop(context.Background())
		if strings.Contains(p.tail(), "address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fail(err)
	}
	return &Instance{
		Service: PrometheusService, Provider: ProviderNative, Addr: addr,
		Extra:   map[string]string{extraURL: base, extraSDDir: sd},
		Version: version, Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(p.stop(ctx), os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid, dir: dir,
	}, nil
}
