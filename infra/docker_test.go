package infra

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests cover what is particular to the Docker provider: images, loopback publishing, clean-up after
// an interrupted start. TestConformance runs the behaviour cases against it like every other provider.
// Without Docker they fail, unless LAB_CONFORMANCE_PROVIDERS leaves docker out (then they say so and skip).

// dockerOrSkip fails the test when the Docker provider cannot serve svc here and LAB_CONFORMANCE_PROVIDERS
// requires it; when the setting leaves docker:svc out, it skips with the reason.
func dockerOrSkip(t testing.TB, svc Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := newDockerProvider().Available(ctx, svc)
	if err == nil {
		return
	}
	if !required(os.Getenv(envConformanceProviders), ProviderDocker, svc) {
		t.Skipf("%s=%q leaves docker:%s out, and Docker cannot serve it here: %v", envConformanceProviders, os.Getenv(envConformanceProviders), svc, err)
	}
	t.Fatalf("%s docker cannot serve %s here: %v", UnavailablePrefix, svc, err)
}

// useOneCommand runs one real command against inst and checks its answer.
var useOneCommand = map[Service]func(t *testing.T, inst *Instance){
	MySQLService: func(t *testing.T, inst *Instance) {
		db, err := sql.Open("mysql", inst.AdminDSN)
		require.NoError(t, err)
		defer db.Close()
		var sum int
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT 20 + 22").Scan(&sum))
		require.Equal(t, 42, sum, "SELECT 20 + 22 = %d, want 42", sum)
	},
	RedisService: func(t *testing.T, inst *Instance) {
		c := redis.NewClient(&redis.Options{Addr: inst.Addr})
		defer c.Close()
		key := "dockertest:" + randomID(4)
		require.NoError(t, c.Set(t.Context(), key, "v", time.Minute).Err())
		got, err := c.Get(t.Context(), key).Result()
		require.NoError(t, err)
		require.Equal(t, "v", got, "GET %s = %q, want %q", key, got, "v")
		require.NoError(t, c.Del(t.Context(), key).Err())
	},
	ConsulService: func(t *testing.T, inst *Instance) {
		c, err := consulapi.NewClient(&consulapi.Config{Address: inst.Addr})
		require.NoError(t, err)
		key := "dockertest/" + randomID(4)
		_, err = c.KV().Put(&consulapi.KVPair{Key: key, Value: []byte("v")}, nil)
		require.NoError(t, err)
		pair, _, err := c.KV().Get(key, nil)
		require.NoError(t, err)
		require.NotNil(t, pair, "KV get %s = nil, want the value just put", key)
		require.Equal(t, "v", string(pair.Value))
		_, err = c.KV().Delete(key, nil)
		require.NoError(t, err)
	},
	PostgresService: func(t *testing.T, inst *Instance) {
		conn, err := pgx.Connect(t.Context(), inst.AdminDSN)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		var sum int
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT 20 + 22").Scan(&sum))
		require.Equal(t, 42, sum, "SELECT 20 + 22 = %d, want 42", sum)
	},
	KafkaService: func(t *testing.T, inst *Instance) {
		topic := "dockertest-" + randomID(4)
		c, err := kgo.NewClient(kgo.SeedBrokers(inst.Brokers...), kgo.AllowAutoTopicCreation(),
			kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		require.NoError(t, err)
		defer c.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr())
		fetches := c.PollRecords(ctx, 1)
		require.NoError(t, fetches.Err())
		recs := fetches.Records()
		require.Len(t, recs, 1, "consumed %d records from %s, want the 1 produced", len(recs), topic)
		require.Equal(t, "v", string(recs[0].Value))
	},
	RabbitMQService: func(t *testing.T, inst *Instance) {
		admin, err := url.Parse(inst.AdminDSN)
		require.NoError(t, err)
		u := &url.URL{Scheme: "amqp", User: admin.User, Host: inst.Addr, Path: "/"}
		conn, err := amqp.Dial(u.String())
		require.NoError(t, err, "AMQP connect to %s", inst.Addr)
		defer conn.Close()
		ch, err := conn.Channel()
		require.NoError(t, err)
		q, err := ch.QueueDeclare("", false, true, true, false, nil) // server-named, deleted with the connection
		require.NoError(t, err)
		require.NoError(t, ch.PublishWithContext(t.Context(), "", q.Name, false, false, amqp.Publishing{Body: []byte("v")}))
		var m amqp.Delivery
		var ok bool
		require.Eventually(t, func() bool { m, ok, err = ch.Get(q.Name, true); return err != nil || ok }, 10*time.Second, 20*time.Millisecond)
		require.NoError(t, err)
		require.Equal(t, "v", string(m.Body), "Get from %s = %q, want the message published", q.Name, m.Body)
	},
	JaegerService: func(t *testing.T, inst *Instance) {
		_, err := jaegerNamespace(inst).Services(t.Context())
		require.NoError(t, err, "Jaeger query API at %s", inst.Extra[extraQueryURL])
		requireLoopback(t, inst.Extra[extraOTLPHTTP])
	},
	PrometheusService: func(t *testing.T, inst *Instance) {
		got, err := prometheusNamespace(inst).Query(t.Context(), "20 + 22")
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 42.0, got[0].Value, "PromQL 20 + 22 = %v, want 42", got[0].Value)
	},
	EtcdService: func(t *testing.T, inst *Instance) {
		c, err := newEtcdClient(etcdEndpoints(inst))
		require.NoError(t, err)
		defer c.Close()
		key := "lab-" + randomID(6) + "/k"
		_, err = c.Put(t.Context(), key, "v")
		require.NoError(t, err, "etcd Put at %s", inst.Addr)
		_, err = c.Delete(t.Context(), key)
		require.NoError(t, err)
	},
}

func TestDockerStartsEachService(t *testing.T) {
	for _, svc := range Services {
		t.Run(string(svc), func(t *testing.T) {
			dockerOrSkip(t, svc)
			ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
			defer cancel()
			inst, err := newDockerProvider().Start(ctx, svc)
			require.NoError(t, err, "docker Start(%s)", svc)
			if inst.Stop != nil {
				t.Cleanup(func() { require.NoError(t, inst.Stop(context.Background())) })
			}
			t.Logf("%s: %s at %s in %v", svc, inst.Version, inst.Addr, inst.Started.Round(time.Millisecond))
			require.Equal(t, ProviderDocker, inst.Provider)
			require.Contains(t, inst.Version, "(image ", "Version = %q, want it to name the image that served", inst.Version)
			requireLoopback(t, inst.Addr)
			useOneCommand[svc](t, inst)
			requirePublishedOnLoopbackOnly(t, svc)
		})
	}
}

func requireLoopback(t *testing.T, hostport string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	require.NoError(t, err)
	require.True(t, ap.Addr().IsLoopback(), "Addr = %s, want a loopback address", hostport)
}

// requirePublishedOnLoopbackOnly checks that the container publishes its ports on 127.0.0.1 and nowhere else,
// or, sharing the host's network, that its server binds to 127.0.0.1 only.
func requirePublishedOnLoopbackOnly(t *testing.T, svc Service) {
	t.Helper()
	name := "microlab-" + string(svc)
	if !newDockerProvider().(*dockerProvider).reuse {
		return // the container has a generated name
	}
	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	require.NoError(t, err)
	if res.Container.HostConfig.NetworkMode == networkHost {
		cmd := strings.Join(res.Container.Config.Cmd, " ")
		flags := map[Service][]string{
			ConsulService:     {"-client 127.0.0.1", "-bind 127.0.0.1", "-advertise 127.0.0.1"},
			PrometheusService: {"--web.listen-address=127.0.0.1:"},
		}[svc]
		require.NotEmpty(t, flags, "%s shares the host's network, which only Consul and Prometheus should", name)
		for _, flag := range flags {
			require.Contains(t, cmd, flag, "%s shares the host's network; its command %q lacks %q", name, cmd, flag)
		}
		require.NotContains(t, cmd, "0.0.0.0", "%s shares the host's network; its command %q binds all interfaces", name, cmd)
		return
	}
	require.NotEmpty(t, res.Container.HostConfig.PortBindings, "%s publishes no port", name)
	for port, bindings := range res.Container.HostConfig.PortBindings {
		for _, b := range bindings {
			require.Equal(t, "127.0.0.1", b.HostIP.String(), "%s publishes %s on %q, want 127.0.0.1 only", name, port, b.HostIP)
		}
	}
}

// Consul runs the HTTP and gRPC health checks that services register (chapter 05) itself, so it must reach
// servers on the host's 127.0.0.1. With host networking (Linux) it does; on the bridge it cannot.
func TestDockerConsulChecksReachHostLoopback(t *testing.T) {
	dockerOrSkip(t, ConsulService)
	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	if !consulHostNetwork(t.Context(), cli) {
		t.Skip("Consul runs on the bridge here (not Linux, Docker Desktop or rootless): checks against host services need host.docker.internal")
	}
	for _, reuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("reuse=%v", reuse), func(t *testing.T) {
			p := &dockerProvider{reuse: reuse, session: randomID(6)}
			inst, err := p.Start(t.Context(), ConsulService)
			require.NoError(t, err, "docker Start(consul)")
			if inst.Stop != nil {
				t.Cleanup(func() { require.NoError(t, inst.Stop(context.Background())) })
			}
			requireLoopback(t, inst.Addr)

			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			defer srv.Close()
			c, err := consulapi.NewClient(&consulapi.Config{Address: inst.Addr})
			require.NoError(t, err)
			id := "dockertest-" + randomID(4)
			require.NoError(t, c.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
				ID: id, Name: id,
				Check: &consulapi.AgentServiceCheck{HTTP: srv.URL, Interval: "200ms", Timeout: "1s"},
			}))
			defer func() { _ = c.Agent().ServiceDeregister(id) }()

			var status string
			require.Eventually(t, func() bool {
				status, _, err = c.Agent().AgentHealthServiceByID(id)
				return err == nil && status == consulapi.HealthPassing
			}, 15*time.Second, 100*time.Millisecond, "health of %s checking %s = %q (err %v), want %q", id, srv.URL, status, err, consulapi.HealthPassing)
		})
	}
}

// A reused host-network Consul keeps the ports it was created with; the next start finds them, whatever
// ports it would have chosen for a new container.
func TestDockerConsulReuseFindsAddress(t *testing.T) {
	dockerOrSkip(t, ConsulService)
	p := &dockerProvider{reuse: true, session: randomID(6)}
	first, err := p.Start(t.Context(), ConsulService)
	require.NoError(t, err, "first docker Start(consul)")
	second, err := p.Start(t.Context(), ConsulService)
	require.NoError(t, err, "second docker Start(consul)")
	require.Equal(t, first.Addr, second.Addr, "Addr of the reused Consul = %s, want %s as at the first start", second.Addr, first.Addr)
	useOneCommand[ConsulService](t, second)
}

// A host-network Consul of its own can be stopped and started again at the same address (OwnConsul);
// a reused one is shared, so it offers neither.
func TestDockerConsulPauseResume(t *testing.T) {
	dockerOrSkip(t, ConsulService)
	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	if !consulHostNetwork(t.Context(), cli) {
		t.Skip("Consul runs on the bridge here: its published port may change on a restart, so it cannot pause")
	}
	shared, err := (&dockerProvider{reuse: true, session: randomID(6)}).Start(t.Context(), ConsulService)
	require.NoError(t, err)
	require.Nil(t, shared.Pause, "a reused Consul offers Pause; another test could stop it under everyone")

	own := (&dockerProvider{reuse: true, session: randomID(6)}).withOwnContainers()
	inst, err := own.Start(t.Context(), ConsulService)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, inst.Stop(context.Background())) })
	require.NotNil(t, inst.Pause, "a Consul of its own has no Pause")
	require.NotNil(t, inst.Resume, "a Consul of its own has no Resume")

	require.NoError(t, inst.Pause(t.Context()))
	_, err = consulVersion(t.Context(), inst.Addr)
	require.Error(t, err, "Consul at %s answers while paused", inst.Addr)
	require.NoError(t, inst.Resume(t.Context()))
	useOneCommand[ConsulService](t, inst)
}

func TestConsulHostEndpoint(t *testing.T) {
	tests := []struct {
		name           string
		labels         map[string]string
		wantAddr, node string
		wantErr        bool
	}{
		{"port and node", map[string]string{labelConsulHTTP: "18500", labelConsulNode: "microlab-ab12"}, "127.0.0.1:18500", "microlab-ab12", false},
		{"no port", map[string]string{labelConsulNode: "microlab-ab12"}, "", "", true},
		{"port out of range", map[string]string{labelConsulHTTP: "70000", labelConsulNode: "n"}, "", "", true},
		{"no node", map[string]string{labelConsulHTTP: "18500"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, node, err := consulHostEndpoint(tt.labels)
			if tt.wantErr {
				require.Error(t, err, "consulHostEndpoint(%v) = %s, %s, nil error; want an error", tt.labels, addr, node)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantAddr, addr, "consulHostEndpoint(%v) addr = %s, want %s", tt.labels, addr, tt.wantAddr)
			require.Equal(t, tt.node, node, "consulHostEndpoint(%v) node = %s, want %s", tt.labels, node, tt.node)
		})
	}
}

// A start that is cancelled at any point leaves no container behind.
func TestDockerInterruptedStartLeavesNoContainer(t *testing.T) {
	tests := []struct {
		name     string
		cancelAt string // "now", or the container state that triggers the cancel: "created", "running"
	}{
		{"cancelled at once", "now"},
		{"cancelled once the container exists", "created"},
		{"cancelled while waiting for the server", "running"},
	}
	dockerOrSkip(t, MySQLService) // the slowest start, so every point is reachable
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &dockerProvider{reuse: false, session: randomID(6)}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancelAt == "now" {
				go func() { time.Sleep(10 * time.Millisecond); cancel() }()
			} else {
				go cancelWhenState(ctx, cancel, p.session, tt.cancelAt)
			}
			inst, err := p.Start(ctx, MySQLService)
			if err == nil && inst.Stop != nil {
				_ = inst.Stop(context.Background())
			}
			require.Error(t, err, "Start with a cancelled context = nil error, want the cancellation")
			require.ErrorIs(t, err, context.Canceled)

			cli, err := dockerClient(t.Context())
			require.NoError(t, err)
			defer cli.Close()
			// Look again a little later too: a create request can complete after its caller gave up.
			for range 2 {
				left, err := listContainers(t.Context(), cli, labelMicrolab+"=1", labelSession+"="+p.session)
				require.NoError(t, err)
				require.Empty(t, left, "containers left by the interrupted start: %v", names(left))
				time.Sleep(time.Second)
			}
		})
	}
}

// cancelWhenState cancels once a container of session reaches state.
func cancelWhenState(ctx context.Context, cancel context.CancelFunc, session, state string) {
	defer cancel()
	cli, err := dockerClient(ctx)
	if err != nil {
		return
	}
	defer cli.Close()
	for ctx.Err() == nil {
		items, err := listContainers(ctx, cli, labelSession+"="+session)
		if err == nil && len(items) > 0 && (state == "created" || string(items[0].State) == state) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func names(items []container.Summary) []string {
	var out []string
	for _, c := range items {
		out = append(out, fmt.Sprintf("%v (%s)", c.Names, c.State))
	}
	return out
}

func TestDockerMissingImageIsNeverPulled(t *testing.T) {
	dockerOrSkip(t, RedisService)
	missing := "microlab/missing-" + randomID(4) + ":0"
	t.Setenv("LAB_REDIS_IMAGE", missing)
	p := &dockerProvider{reuse: false, session: randomID(6)}

	err := p.Available(t.Context(), RedisService)
	require.ErrorIs(t, err, errImageMissing, "Available with %s", missing)
	require.Contains(t, err.Error(), "LAB_REDIS_IMAGE")

	_, err = p.Start(t.Context(), RedisService)
	require.ErrorIs(t, err, errImageMissing, "Start with %s", missing)

	// The guard inside testcontainers refuses too, before testcontainers could pull.
	_, err = localOnlySubstitutor{}.Substitute(missing)
	require.ErrorIs(t, err, errImageMissing)

	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	ok, err := imageExists(t.Context(), cli, missing)
	require.NoError(t, err)
	require.False(t, ok, "%s exists after the start: something pulled it", missing)
	left, err := listContainers(t.Context(), cli, labelSession+"="+p.session)
	require.NoError(t, err)
	require.Empty(t, left)
}

func TestDockerStopRemovesItsContainer(t *testing.T) {
	dockerOrSkip(t, RedisService)
	p := &dockerProvider{reuse: false, session: randomID(6)}
	inst, err := p.Start(t.Context(), RedisService)
	require.NoError(t, err)
	require.NotNil(t, inst.Stop, "a container of its own must have a Stop")
	require.NoError(t, inst.Stop(t.Context()))

	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	left, err := listContainers(t.Context(), cli, labelSession+"="+p.session)
	require.NoError(t, err)
	require.Empty(t, left, "containers left after Stop")
}

// With a registry mirror prefix set, the local stand-in still serves (under an alias tag), and nothing is pulled.
// testcontainers reads the prefix once per process, so the check runs in a child test process.
func TestDockerHubPrefixServesLocalStandIn(t *testing.T) {
	const prefix = "mirror.invalid" // never resolves: a pull attempt could not succeed
	if os.Getenv("MICROLAB_HUB_PREFIX_CHILD") == "1" {
		p := &dockerProvider{reuse: false, session: randomID(6)}
		inst, err := p.Start(t.Context(), RedisService)
		require.NoError(t, err, "docker Start(redis) with TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX=%s", prefix)
		defer func() { require.NoError(t, inst.Stop(context.Background())) }()
		require.Contains(t, inst.Version, "(image "+prefix+"/microlab/redis:7.0)")
		useOneCommand[RedisService](t, inst)
		return
	}
	dockerOrSkip(t, RedisService)
	t.Setenv("LAB_REDIS_IMAGE", "") // the default choice: official image absent, stand-in present
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDockerHubPrefixServesLocalStandIn$", "-test.v")
	cmd.Env = append(os.Environ(), "MICROLAB_HUB_PREFIX_CHILD=1", "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX="+prefix)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child test with a hub prefix failed:\n%s", out)

	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.ImageRemove(t.Context(), prefix+"/microlab/redis:7.0", client.ImageRemoveOptions{})
	require.NoError(t, err, "remove the alias tag the child made")
}

// A container of its own left by a test binary that died (timeout, interrupt, crash) is removed by the next start.
func TestDockerNextStartRemovesOrphans(t *testing.T) {
	if session := os.Getenv("MICROLAB_ORPHAN_CHILD"); session != "" {
		p := &dockerProvider{reuse: false, session: session}
		_, err := p.Start(t.Context(), RedisService)
		require.NoError(t, err)
		os.Exit(0) // die without Stop, as a killed test binary would
	}
	dockerOrSkip(t, RedisService)
	orphan := randomID(6)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDockerNextStartRemovesOrphans$")
	cmd.Env = append(os.Environ(), "MICROLAB_ORPHAN_CHILD="+orphan)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child that leaves a container:\n%s", out)

	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	left, err := listContainers(t.Context(), cli, labelSession+"="+orphan)
	require.NoError(t, err)
	require.Len(t, left, 1, "the child should have left its container behind")

	inst, err := (&dockerProvider{reuse: false, session: randomID(6)}).Start(t.Context(), RedisService)
	require.NoError(t, err)
	require.NoError(t, inst.Stop(t.Context()))
	left, err = listContainers(t.Context(), cli, labelSession+"="+orphan)
	require.NoError(t, err)
	require.Empty(t, left, "the orphan is still there after the next start: %v", names(left))
}

func TestWithHubPrefix(t *testing.T) {
	tests := []struct {
		name, prefix, image, want string
	}{
		{"no prefix", "", "mysql:8.0.36", "mysql:8.0.36"},
		{"official image", "mirror.example.com", "mysql:8.0.36", "mirror.example.com/mysql:8.0.36"},
		{"organisation image", "mirror.example.com/hub", "confluentinc/confluent-local:7.5.0", "mirror.example.com/hub/confluentinc/confluent-local:7.5.0"},
		{"stand-in", "mirror.example.com", "microlab/redis:7.0", "mirror.example.com/microlab/redis:7.0"},
		{"other registry", "mirror.example.com", "quay.io/org/img:1", "quay.io/org/img:1"},
		{"registry with port", "mirror.example.com", "localhost:5000/img:1", "localhost:5000/img:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withHubPrefix(tt.prefix, tt.image)
			require.Equal(t, tt.want, got, "withHubPrefix(%q, %q) = %q, want %q", tt.prefix, tt.image, got, tt.want)
		})
	}
}

func TestStripDockerHub(t *testing.T) {
	tests := []struct {
		name, prefix, image, want string
	}{
		{"no prefix keeps the name", "", "docker.io/library/mysql:8.0.36", "docker.io/library/mysql:8.0.36"},
		{"docker.io library", "mirror.example.com", "docker.io/library/mysql:8.0.36", "mysql:8.0.36"},
		{"docker.io organisation", "mirror.example.com", "docker.io/hashicorp/consul:1.15", "hashicorp/consul:1.15"},
		{"registry.hub.docker.com", "mirror.example.com", "registry.hub.docker.com/library/redis:7", "redis:7"},
		{"other registry untouched", "mirror.example.com", "quay.io/org/img:1", "quay.io/org/img:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stripDockerHub(tt.prefix, tt.image)
			require.Equal(t, tt.want, got, "stripDockerHub(%q, %q) = %q, want %q", tt.prefix, tt.image, got, tt.want)
		})
	}
}

func TestHostOverrideIsAlwaysIPv4Loopback(t *testing.T) {
	tests := []struct {
		set     string
		want    string
		wantErr error
	}{
		{"", "127.0.0.1", nil},
		{"localhost", "127.0.0.1", nil},
		{"127.0.0.1", "127.0.0.1", nil},
		{"::1", "127.0.0.1", nil},
		{"172.17.0.1", "", errDockerUnavailable},
		{"host.docker.internal", "", errDockerUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			got, err := hostOverride(tt.set)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("hostOverride(%q) = %q, %v; want %q, %v", tt.set, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
