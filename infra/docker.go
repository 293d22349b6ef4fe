package infra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcconsul "github.com/testcontainers/testcontainers-go/modules/consul"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The Docker provider runs each service in a container through the testcontainers-go modules.
//
// By default a container is reused across test runs (named microlab-<service>), so only the first run
// pays for the start; `labctl infra down` (dockerDown) removes it. LAB_DOCKER_REUSE=0 gives every start a
// container of its own that Stop removes. Every container carries the label microlab=1.
// A start that fails or is cancelled removes the container it created.

// Labels on every container this provider creates.
const (
	labelMicrolab = "microlab"         // "1" on every container: dockerDown removes them all
	labelService  = "microlab.service" // the Service
	labelImage    = "microlab.image"   // the image reference it was created from
	labelSession  = "microlab.session" // the process (provider) that created it
	labelOwner    = "microlab.owner"   // "<hostname>/<pid>" of a container of its own (not reused)
	labelNetwork  = "microlab.network" // networkHost when the container shares the host's network; absent on the bridge

	labelConsulHTTP = "microlab.consul.http" // HTTP port of a host-network Consul, on 127.0.0.1
	labelConsulNode = "microlab.consul.node" // node name of a host-network Consul
)

// networkHost is Docker's network mode that shares the host's network namespace.
const networkHost = "host"

// mysqlRootPassword is the root password of MySQL containers; they listen on loopback only.
const mysqlRootPassword = "microlab"

// errDockerUnavailable means that no Docker daemon answers, or that the settings forbid using it.
var errDockerUnavailable = errors.New("docker unavailable")

type dockerProvider struct {
	reuse   bool   // share one long-lived container per service across runs
	session string // labels the containers this provider creates
}

// processSession identifies this process's containers.
var processSession = randomID(6)

// newDockerProvider returns the Docker provider, reusing containers unless LAB_DOCKER_REUSE is 0 or false.
func newDockerProvider() Provider {
	reuse := true
	if v, err := strconv.ParseBool(os.Getenv("LAB_DOCKER_REUSE")); err == nil {
		reuse = v
	}
	return &dockerProvider{reuse: reuse, session: processSession}
}

func (p *dockerProvider) Name() string { return ProviderDocker }

// withOwnContainers returns a provider of the same session that gives every start a container of its own,
// whatever LAB_DOCKER_REUSE says: what a private server that a test stops and restarts (OwnConsul) needs,
// since only such a container offers Pause and Resume.
func (p *dockerProvider) withOwnContainers() Provider {
	return &dockerProvider{reuse: false, session: p.session}
}

var (
	dockerEnvOnce sync.Once
	dockerEnvErr  error
)

// prepareDockerEnv applies the settings testcontainers needs here before it first reads them (it reads its
// configuration once per process):
//   - TESTCONTAINERS_RYUK_DISABLED=true: the Ryuk reaper is one more image to pull, and it would remove the
//     containers that are meant to be reused; this provider cleans up after itself instead.
//   - TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1, see hostOverride: otherwise testcontainers may guess
//     a gateway address when it thinks it runs inside a container. Tests talk to loopback only.
func prepareDockerEnv() error {
	dockerEnvOnce.Do(func() {
		if v, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		} else if b, _ := strconv.ParseBool(v); !b {
			dockerEnvErr = fmt.Errorf("%w: TESTCONTAINERS_RYUK_DISABLED=%s asks for the Ryuk reaper, whose image would be pulled; set it to true", errDockerUnavailable, v)
			return
		}
		host, err := hostOverride(os.Getenv("TESTCONTAINERS_HOST_OVERRIDE"))
		if err != nil {
			dockerEnvErr = err
			return
		}
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", host)
		if os.Getenv("LAB_DOCKER_DEBUG") == "" {
			tclog.SetDefault(tclog.NewNoopLogger())
		}
	})
	return dockerEnvErr
}

// hostOverride returns the TESTCONTAINERS_HOST_OVERRIDE to use, given the one set (maybe empty): always
// 127.0.0.1, the address every port is published on. A loopback setting ("localhost", which may resolve to
// ::1 first, or ::1) becomes 127.0.0.1, so that wait strategies dial where the ports are; anything else is an error.
func hostOverride(set string) (string, error) {
	if set == "" || set == "localhost" {
		return "127.0.0.1", nil
	}
	if a, err := netip.ParseAddr(set); err == nil && a.IsLoopback() {
		return "127.0.0.1", nil
	}
	return "", fmt.Errorf("%w: TESTCONTAINERS_HOST_OVERRIDE=%s is not a loopback address; tests talk to 127.0.0.1 only", errDockerUnavailable, set)
}

// dockerClient connects to the daemon testcontainers would use (DOCKER_HOST, Docker contexts, Colima, Podman...).
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	if err := prepareDockerEnv(); err != nil {
		return nil, err
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: no Docker daemon answers (%v); start it: on Linux `sudo infra/scripts/provision-docker.sh` "+
			"or `sudo systemctl start docker`, elsewhere Docker Desktop, `colima start` or `podman machine start`", errDockerUnavailable, err)
	}
	return cli, nil
}

// Available checks, within a few seconds, that a daemon answers and that an image of svc is on this machine.
func (p *dockerProvider) Available(ctx context.Context, svc Service) error {
	spec, err := specFor(svc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = chooseImage(ctx, cli, spec)
	return err
}

// Start runs svc in a container (or reuses the running one) and waits until it answers.
func (p *dockerProvider) Start(ctx context.Context, svc Service) (*Instance, error) {
	begin := time.Now()
	spec, err := specFor(svc)
	if err != nil {
		return nil, err
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	choice, err := chooseImage(ctx, cli, spec)
	if err != nil {
		return nil, err
	}
	netMode := "" // the bridge
	if svc == ConsulService && consulHostNetwork(ctx, cli) {
		netMode = networkHost
	}
	if svc == PrometheusService {
		if !consulHostNetwork(ctx, cli) {
			return nil, errNoHostNetwork
		}
		netMode = networkHost
	}
	name := "microlab-" + string(svc)
	if p.reuse {
		if err := p.dropStale(ctx, cli, name, choice.ref, netMode); err != nil {
			return nil, err
		}
		if svc == PrometheusService {
			if err := dropPrometheusWithoutDir(ctx, cli, name); err != nil {
				return nil, err
			}
		}
	} else {
		name += "-" + p.session + "-" + randomID(3)
		p.sweepOrphans(ctx, cli)
	}
	labels := map[string]string{labelMicrolab: "1", labelService: string(svc), labelImage: choice.ref, labelSession: p.session}
	if !p.reuse {
		labels[labelOwner] = ownerLabel(os.Getpid())
	}
	if netMode != "" {
		labels[labelNetwork] = netMode
	}
	opts := []testcontainers.ContainerCustomizer{testcontainers.WithLabels(labels), imageSubstitutors()}
	if p.reuse {
		opts = append(opts, testcontainers.WithReuseByName(name))
	} else {
		opts = append(opts, testcontainers.WithName(name))
	}

	var inst *Instance
	var ctr testcontainers.Container
	switch svc {
	case MySQLService:
		ctr, inst, err = startMySQL(ctx, choice, opts)
	case RedisService:
		ctr, inst, err = startRedis(ctx, choice, opts)
	case ConsulService:
		if netMode == networkHost {
			ctr, inst, err = startConsulHostNetwork(ctx, choice, opts)
		} else {
			ctr, inst, err = startConsul(ctx, choice, opts)
		}
	case KafkaService:
		ctr, inst, err = startKafka(ctx, choice, opts)
	case PostgresService:
		ctr, inst, err = startPostgres(ctx, choice, opts)
	case RabbitMQService:
		ctr, inst, err = startRabbitMQ(ctx, choice, opts)
	case JaegerService:
		ctr, inst, err = startJaeger(ctx, choice, opts)
	case PrometheusService:
		ctr, inst, err = startPrometheus(ctx, choice, opts)
	case EtcdService:
		ctr, inst, err = startEtcdContainer(ctx, choice, opts)
	}
	if err != nil {
		// Remove what this start created, with a context of its own: ctx may be why the start failed.
		cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nil, errors.Join(fmt.Errorf("docker: start %s from %s: %w", svc, choice.local, err), p.cleanUpFailed(cleanCtx, cli, ctr, svc))
	}
	inst.Service, inst.Provider, inst.Started = svc, ProviderDocker, time.Since(begin)
	inst.Version += " (image " + choice.local + ")"
	if p.reuse {
		// A reused container is shared with other tests and processes: none of them may stop it.
		inst.Pause, inst.Resume = nil, nil
	} else {
		// A reused container outlives this process on purpose (dockerDown removes it), so its Stop stays nil.
		id := ctr.GetContainerID()
		inst.Stop = func(ctx context.Context) error {
			return withDockerClient(ctx, func(cli *testcontainers.DockerClient) error { return removeContainerAndDir(ctx, cli, id) })
		}
	}
	return inst, nil
}

// removeContainerAndDir removes a container and the host directory that a Prometheus container mounts.
func removeContainerAndDir(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err := removeContainer(ctx, cli, id); err != nil {
		return err
	}
	if err == nil && res.Container.Config != nil {
		removePrometheusDir(res.Container.Config.Labels)
	}
	return nil
}

// removeContainer force-removes one container and its anonymous volumes.
func removeContainer(ctx context.Context, cli *testcontainers.DockerClient, id string) error {
	_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

func ownerLabel(pid int) string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(pid)
}

// sweepOrphans removes the containers of their own (not reused) that processes on this host left when they died
// without cleaning up: a test binary killed by a timeout, an interrupt or a crash. It is best effort.
func (p *dockerProvider) sweepOrphans(ctx context.Context, cli *testcontainers.DockerClient) {
	items, err := listContainers(ctx, cli, labelMicrolab+"=1", labelOwner)
	if err != nil {
		return
	}
	host, _ := os.Hostname()
	for _, c := range items {
		h, pid, ok := strings.Cut(c.Labels[labelOwner], "/")
		n, err := strconv.Atoi(pid)
		if ok && err == nil && h == host && !pidAlive(n) {
			_ = removeContainer(ctx, cli, c.ID)
			removePrometheusDir(c.Labels)
		}
	}
}

// dropStale removes a reusable container that was created from another image (LAB_*_IMAGE changed, or the
// official image arrived) or on another network (labelNetwork differs from netMode), so that reuse never
// serves a stale container. It refuses to touch a container of that name that is not ours.
func (p *dockerProvider) dropStale(ctx context.Context, cli *testcontainers.DockerClient, name, ref, netMode string) error {
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", name, err)
	}
	labels := res.Container.Config.Labels
	if labels[labelMicrolab] != "1" {
		return fmt.Errorf("docker: a container named %s exists but is not microlab's (no label %s=1); remove or rename it", name, labelMicrolab)
	}
	if labels[labelImage] == ref && labels[labelNetwork] == netMode {
		return nil
	}
	_, err = cli.ContainerRemove(ctx, res.Container.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove stale %s (image %s, network %q; now %s, %q): %w", name, labels[labelImage], labels[labelNetwork], ref, netMode, err)
	}
	return nil
}

// cleanUpFailed removes the container of a failed start when this provider created it, or when it is not
// running (a reused container that cannot start is broken). A container that another process created and still
// uses is left alone. It then removes any container of svc labelled with this session, which covers a create
// request that the daemon completed after ctx was cancelled.
func (p *dockerProvider) cleanUpFailed(ctx context.Context, cli *testcontainers.DockerClient, ctr testcontainers.Container, svc Service) error {
	var errs []error
	if ctr != nil && ctr.GetContainerID() != "" {
		res, err := cli.ContainerInspect(ctx, ctr.GetContainerID(), client.ContainerInspectOptions{})
		switch {
		case isNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("inspect failed container: %w", err))
		case res.Container.Config.Labels[labelSession] == p.session || res.Container.State == nil || !res.Container.State.Running:
			errs = append(errs, removeContainer(ctx, cli, res.Container.ID))
		}
	}
	// The daemon may still be creating a container whose request was cancelled: look twice.
	for i := range 2 {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		ids, err := listContainers(ctx, cli, labelSession+"="+p.session, labelService+"="+string(svc))
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, c := range ids {
			errs = append(errs, removeContainer(ctx, cli, c.ID))
		}
	}
	return errors.Join(errs...)
}

// listContainers lists every container (running or not) that carries all the given labels (key=value).
func listContainers(ctx context.Context, cli *testcontainers.DockerClient, labels ...string) ([]container.Summary, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labels...)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return res.Items, nil
}

func isNotFound(err error) bool {
	return cerrdefs.IsNotFound(err)
}

// dockerDown removes every container labelled microlab=1, running or not, and returns their names.
// `labctl infra down` calls it.
func dockerDown(ctx context.Context) ([]string, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	items, err := listContainers(ctx, cli, labelMicrolab+"=1")
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range items {
		if err := removeContainer(ctx, cli, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removePrometheusDir(c.Labels)
		removed = append(removed, strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
	}
	return removed, errors.Join(errs...)
}

// bindLoopback publishes every exposed port of the request on 127.0.0.1 only, at fixed[port] if given,
// else at a port the daemon picks. It must come after the options that expose ports.
func bindLoopback(fixed map[string]int) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		bindings := network.PortMap{}
		for _, exposed := range req.ExposedPorts {
			spec := exposed
			if !strings.Contains(spec, "/") {
				spec += "/tcp"
			}
			port, err := network.ParsePort(spec)
			if err != nil {
				return fmt.Errorf("exposed port %q: %w", exposed, err)
			}
			hostPort := ""
			if p, ok := fixed[spec]; ok {
				hostPort = strconv.Itoa(p)
			}
			bindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: hostPort}}
		}
		return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = bindings
		})(req)
	}
}

// serving returns the instance behind a container port once probe, given its loopback address, answers.
func serving(ctx context.Context, ctr testcontainers.Container, port string, probe func(ctx context.Context, addr string) (string, error)) (*Instance, error) {
	addr, err := loopbackEndpoint(ctx, ctr, port)
	if err != nil {
		return nil, err
	}
	version, err := retryProbe(ctx, func(ctx context.Context) (string, error) { return probe(ctx, addr) })
	if err != nil {
		return nil, err
	}
	return &Instance{Addr: addr, Version: version}, nil
}

// loopbackEndpoint returns 127.0.0.1:<host port> of a container port.
func loopbackEndpoint(ctx context.Context, ctr testcontainers.Container, port string) (string, error) {
	p, err := ctr.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("mapped port %s: %w", port, err)
	}
	return net.JoinHostPort("127.0.0.1", p.Port()), nil
}

func startMySQL(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	opts = append(opts,
		tcmysql.WithUsername("root"), tcmysql.WithPassword(mysqlRootPassword),
		bindLoopback(nil),
		// One server serves every test of a run, and parallel checks each hold pools of their own: the default
		// 151 connections ran out ("Error 1040: Too many connections") with three chapters verified at once.
		// "mysqld" first: both the official entrypoint and the stand-in's pass the flags that follow to the server.
		testcontainers.WithCmd("mysqld", "--max-connections=500"),
	)
	if choice.standIn {
		// MariaDB does not print MySQL's "port: 3306  MySQL Community Server" line. Its own line comes once the
		// data directory is initialised; then wait until SQL answers on the published port.
		opts = append(opts, testcontainers.WithWaitStrategy(
			wait.ForLog("mariadbd: ready for connections").WithStartupTimeout(2*time.Minute),
			wait.ForSQL("3306/tcp", "mysql", func(_ string, port network.Port) string {
				return mysqlAdminDSN("127.0.0.1:" + port.Port())
			}).WithStartupTimeout(2*time.Minute).WithPollInterval(200*time.Millisecond)))
	}
	c, err := tcmysql.Run(ctx, choice.ref, opts...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "3306/tcp", func(ctx context.Context, addr string) (string, error) {
		return mysqlVersion(ctx, mysqlAdminDSN(addr))
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.AdminDSN = mysqlAdminDSN(inst.Addr)
	if !strings.Contains(inst.Version, "MariaDB") {
		inst.Version = "MySQL " + inst.Version
	}
	return ctr, inst, nil
}

func mysqlAdminDSN(addr string) string { return mysqlRootDSN(addr, mysqlRootPassword) }

func startRedis(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	// The stand-in's entrypoint already runs redis-server as the official image does; the module's
	// wait strategy ("Ready to accept connections" and the port) fits both.
	c, err := tcredis.Run(ctx, choice.ref, append(opts, bindLoopback(nil))...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "6379/tcp", redisVersion)
	return ctr, inst, err
}

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

// withDockerClient calls f with a client of the daemon, closed after.
func withDockerClient(ctx context.Context, f func(cli *testcontainers.DockerClient) error) error {
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	return f(cli)
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

func startKafka(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	// Brokers advertise the address clients must use, so the published port is chosen before the start.
	// A reused container keeps the port it was created with; this one only applies to a new container.
	hostPort, err := freePort()
	if err != nil {
		return nil, nil, fmt.Errorf("pick a port for Kafka: %w", err)
	}
	var ctr testcontainers.Container
	var port string
	if choice.standIn {
		port = "9092/tcp"
		var c *testcontainers.DockerContainer
		c, err = testcontainers.Run(ctx, choice.ref, append(opts,
			testcontainers.WithExposedPorts(port),
			testcontainers.WithEnv(map[string]string{"KFAKE_ADVERTISED": net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort))}),
			bindLoopback(map[string]int{port: hostPort}),
			testcontainers.WithWaitStrategy(wait.ForLog(kfakeReadyLine), wait.ForListeningPort(port).SkipInternalCheck()),
		)...)
		ctr = orNil(c)
	} else {
		port = "9093/tcp" // the module's public listener
		var c *tckafka.KafkaContainer
		c, err = tckafka.Run(ctx, choice.ref, append(opts, bindLoopback(map[string]int{port: hostPort}))...)
		ctr = orNil(c)
	}
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, port, func(ctx context.Context, addr string) (string, error) {
		return kafkaVersion(ctx, []string{addr})
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.Brokers = []string{inst.Addr}
	return ctr, inst, nil
}

// orNil turns a nil module container into a nil interface, so that "is there a container to clean up" is ctr != nil.
func orNil[C interface {
	comparable
	testcontainers.Container
}](c C) testcontainers.Container {
	var zero C
	if c == zero {
		return nil
	}
	return c
}

// retryProbe calls probe until it succeeds, for up to 30 s: a published port can accept connections a moment
// before the server behind it does.
func retryProbe(ctx context.Context, probe func(context.Context) (string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		v, err := probe(ctx)
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("server does not answer: %w", errors.Join(err, ctx.Err()))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
