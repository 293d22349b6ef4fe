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

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Prometheus in Docker scrapes targets that tests serve on this machine's 127.0.0.1, so it runs with host
// networking (Linux only, as Consul: see consulHostNetwork), its HTTP API bound to 127.0.0.1 at a port chosen
// free before the start. Its configuration and scrape-target directory live in a host directory that is mounted
// at the same path in the container, so that Scrape writes target files where the server reads them. A reused
// container keeps the port and directory it was created with; both are read from its labels.

const (
	labelPrometheusDir  = "microlab.prometheus.dir"  // host directory with prometheus.yml and targets/
	labelPrometheusPort = "microlab.prometheus.port" // port of the HTTP API on 127.0.0.1
)

// prometheusDockerRoot holds the host directories of Prometheus containers. They outlive the process that
// made them when the container is reused; dockerDown removes them with their containers.
func prometheusDockerRoot() string { return filepath.Join(os.TempDir(), "microlab-docker") }

// errNoHostNetwork says why Prometheus cannot run in this Docker.
var errNoHostNetwork = errors.New("Prometheus in Docker needs host networking to scrape targets on this machine's 127.0.0.1, " +
	"and this Docker runs containers in a VM or a namespace of their own (Docker Desktop, Colima, rootless); " +
	"use the native provider (apt-get install prometheus, brew install prometheus)")

func startPrometheus(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	if err := os.MkdirAll(prometheusDockerRoot(), 0o755); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(prometheusDockerRoot(), "prometheus-")
	if err != nil {
		return nil, nil, err
	}
	// The container runs as another user (nobody in the official image): everything must be readable.
	_ = os.Chmod(dir, 0o755)
	sd := filepath.Join(dir, "targets")
	if err := os.Mkdir(sd, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(prometheusConfig(sd)), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := testcontainers.Run(ctx, choice.ref, append(opts,
		testcontainers.WithLabels(map[string]string{labelPrometheusDir: dir, labelPrometheusPort: strconv.Itoa(port)}),
		// Both images' entrypoint is the prometheus binary; the storage directory is writable in both.
		testcontainers.WithCmd(prometheusArgs(conf, "/prometheus", listen)...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = networkHost
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: dir, Target: dir, ReadOnly: true})
		}),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready to receive web requests").WithStartupTimeout(startTimeout)),
	)...)
	ctr := orNil(c)
	if err != nil {
		// A container made by this start is removed by the caller (cleanUpFailed); a reused one has its own directory.
		_ = os.RemoveAll(dir)
		return ctr, nil, err
	}
	res, err := ctr.Inspect(ctx)
	if err != nil {
		_ = os.RemoveAll(dir)
		return ctr, nil, fmt.Errorf("inspect prometheus container: %w", err)
	}
	// A reused container has a directory and port of its own: the ones made here are not needed.
	gotDir, gotPort := res.Config.Labels[labelPrometheusDir], res.Config.Labels[labelPrometheusPort]
	if gotDir != dir {
		_ = os.RemoveAll(dir)
	}
	if gotDir == "" || gotPort == "" {
		return ctr, nil, fmt.Errorf("prometheus container has no labels %s and %s: remove it with `labctl infra down`", labelPrometheusDir, labelPrometheusPort)
	}
	base := "http://" + net.JoinHostPort("127.0.0.1", gotPort)
	version, err := retryProbe(ctx, func(ctx context.Context) (string, error) { return prometheusVersion(ctx, base) })
	if err != nil {
		removePrometheusDir(res.Config.Labels) // the container goes too (cleanUpFailed), or is broken for everyone
		return ctr, nil, err
	}
	return ctr, &Instance{
		Addr: strings.TrimPrefix(base, "http://"), Version: version,
		Extra: map[string]string{extraURL: base, extraSDDir: filepath.Join(gotDir, "targets")},
	}, nil
}

// dropPrometheusWithoutDir removes the reusable Prometheus container called name when its host directory is
// gone (a cleaned /tmp, a reboot): it could no longer read the targets that tests add.
func dropPrometheusWithoutDir(ctx context.Context, cli *testcontainers.DockerClient, name string) error {
	id, labels, err := inspectNamed(ctx, cli, name)
	if id == "" || err != nil {
		return err
	}
	if labels[labelMicrolab] != "1" {
		return nil // dropStale refuses it with the reason
	}
	if dir := labels[labelPrometheusDir]; dir != "" {
		if st, err := os.Stat(filepath.Join(dir, "targets")); err == nil && st.IsDir() {
			return nil
		}
	}
	return removeContainer(ctx, cli, id)
}

// removePrometheusDir removes the host directory of a Prometheus container this package made, given the
// container's labels; anything outside prometheusDockerRoot is left alone.
func removePrometheusDir(labels map[string]string) {
	dir := labels[labelPrometheusDir]
	if dir != "" && filepath.Dir(dir) == prometheusDockerRoot() {
		_ = os.RemoveAll(dir)
	}
}
