package infra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcconsul "github.com/testcontainers/testcontainers-go/modules/consul"
	"github.com/testcontainers/testcontainers-go/wait"
)

// startConsul runs Consul on Docker's bridge network with its HTTP port published on 127.0.0.1. This serves
// where host networking cannot (see consulHostNetwork): registrations, KV and queries work, but health checks
// that Consul itself runs against services on the host's 127.0.0.1 fail, because the container's loopback is
// its own. Such checks would have to target host.docker.internal instead (Docker Desktop, Colima); nothing
// rewrites them yet.
func startConsul(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	// Wait for a leader, not only for the log line: registrations and KV writes fail until there is one.
	// The stand-in has no shell, so the port check stays outside the container.
	opts = append(opts, bindLoopback(nil), testcontainers.WithWaitStrategy(
		wait.ForLog("Consul agent running!"),
		wait.ForListeningPort("8500/tcp").SkipInternalCheck(),
		wait.ForHTTP("/v1/status/leader").WithPort("8500/tcp").WithResponseMatcher(func(body io.Reader) bool {
			b, err := io.ReadAll(body)
			return err == nil && len(strings.Trim(strings.TrimSpace(string(b)), `"`)) > 0
		}),
	))
	c, err := tcconsul.Run(ctx, choice.ref, opts...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "8500/tcp", consulVersion)
	return ctr, inst, err
}

// consulHostNetwork reports whether Consul runs with host networking: on Linux, where the daemon's host network
// is this machine's, so that the agent's HTTP and gRPC health checks reach services on the host's 127.0.0.1
// (chapter 05). Docker Desktop and Colima run containers in a VM whose host network is the VM's, and rootless
// Docker in a namespace of its own: there host networking would not reach this machine's loopback either, so
// Consul stays on the bridge (startConsul).
func consulHostNetwork(ctx context.Context, cli *testcontainers.DockerClient) bool {
	if runtime.GOOS != "linux" {
		return false
	}
	res, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return false
	}
	if strings.Contains(res.Info.OperatingSystem, "Docker Desktop") {
		return false
	}
	for _, opt := range res.Info.SecurityOptions {
		if strings.Contains(opt, "rootless") {
			return false
		}
	}
	return true
}

// consulDevArgs is the command line of a dev-mode agent bound to 127.0.0.1 only, at fixed ports: http, dns,
// grpc, serf_lan, serf_wan and server, in that order.
func consulDevArgs(node string, ports [6]int) []string {
	return []string{
		"agent", "-dev", "-client", "127.0.0.1", "-bind", "127.0.0.1", "-advertise", "127.0.0.1",
		"-node", node, "-log-level", "warn", "-disable-host-node-id",
		// Every test reaches the agent from 127.0.0.1, and the default of 200 HTTP connections per client
		// address answers 429 once a few chapters' tests run at once (verify overlaps chapters).
		"-hcl", "limits { http_max_conns_per_client = 4096 }",
		"-http-port", strconv.Itoa(ports[0]),
		"-dns-port", strconv.Itoa(ports[1]),
		"-grpc-port", strconv.Itoa(ports[2]),
		"-grpc-tls-port", "-1",
		"-serf-lan-port", strconv.Itoa(ports[3]),
		"-serf-wan-port", strconv.Itoa(ports[4]),
		"-server-port", strconv.Itoa(ports[5]),
	}
}

// startConsulHostNetwork runs Consul in the host's network namespace, bound to 127.0.0.1 at ports chosen free
// before the start (nothing is published: there is no bridge). A reused container keeps the ports it was
// created with, which may differ from the ones chosen here, so its address is always read from its labels.
func startConsulHostNetwork(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	picked, err := freePorts(6)
	if err != nil {
		return nil, nil, fmt.Errorf("pick ports for Consul: %w", err)
	}
	ports := [6]int(picked)
	node := "microlab-" + randomID(4)
	c, err := testcontainers.Run(ctx, choice.ref, append(opts,
		testcontainers.WithLabels(map[string]string{labelConsulHTTP: strconv.Itoa(ports[0]), labelConsulNode: node}),
		testcontainers.WithCmd(consulDevArgs(node, ports)...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { hc.NetworkMode = networkHost }),
		testcontainers.WithWaitStrategy(&consulLeaderWait{}), // a pointer: testcontainers' MultiStrategy needs one
	)...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	res, err := ctr.Inspect(ctx)
	if err != nil {
		return ctr, nil, fmt.Errorf("inspect consul container: %w", err)
	}
	addr, node, err := consulHostEndpoint(res.Config.Labels)
	if err != nil {
		return ctr, nil, err
	}
	version, err := retryProbe(ctx, func(ctx context.Context) (string, error) { return consulReady(ctx, addr, node) })
	if err != nil {
		return ctr, nil, err
	}
	// Its ports are in its command, so a stopped container starts again at the same address (OwnConsul).
	id := ctr.GetContainerID()
	pause := func(ctx context.Context) error {
		return withDockerClient(ctx, func(cli *testcontainers.DockerClient) error {
			timeout := 10
			if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
				return fmt.Errorf("stop consul container: %w", err)
			}
			return nil
		})
	}
	resume := func(ctx context.Context) error {
		return withDockerClient(ctx, func(cli *testcontainers.DockerClient) error {
			if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
				return fmt.Errorf("start consul container again: %w", err)
			}
			_, err := retryProbe(ctx, func(ctx context.Context) (string, error) { return consulReady(ctx, addr, node) })
			return err
		})
	}
	return ctr, &Instance{Addr: addr, Version: version, Pause: pause, Resume: resume}, nil
}

// consulHostEndpoint reads the address and node name of a host-network Consul from its container's labels.
func consulHostEndpoint(labels map[string]string) (addr, node string, err error) {
	port, err := strconv.Atoi(labels[labelConsulHTTP])
	if err != nil || port <= 0 || port > 65535 {
		return "", "", fmt.Errorf("consul container has no valid label %s (%q): remove it with `labctl infra down`", labelConsulHTTP, labels[labelConsulHTTP])
	}
	if labels[labelConsulNode] == "" {
		return "", "", fmt.Errorf("consul container has no label %s: remove it with `labctl infra down`", labelConsulNode)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), labels[labelConsulNode], nil
}

// consulLeaderWait waits until a host-network Consul has elected a leader and registered its node, asking its
// HTTP API on the port its labels name. It reads the labels of the container it waits for, not the ports of
// the request, because a reused container (or one that another process created first) keeps its own.
type consulLeaderWait struct{}

func (*consulLeaderWait) String() string { return "Consul leader and node via its HTTP API" }

func (*consulLeaderWait) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := target.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("inspect consul container: %w", err)
	}
	addr, node, err := consulHostEndpoint(res.Config.Labels)
	if err != nil {
		return err
	}
	for {
		_, err := consulReady(ctx, addr, node)
		if err == nil {
			return nil
		}
		if state, serr := target.State(ctx); serr == nil && !state.Running {
			return fmt.Errorf("consul container is %s (exit code %d): %w", state.Status, state.ExitCode, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consul at %s not ready: %w", addr, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
