package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
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
