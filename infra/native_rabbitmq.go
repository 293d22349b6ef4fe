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

// A native RabbitMQ is Debian's rabbitmq-server (or Homebrew's) run straight from its start script, without the
// system service: a node of its own named lab-<random>@localhost, with its own Erlang cookie, its own epmd on a
// free loopback port, and every file (database, logs, config) in its work directory. Everything listens on
// 127.0.0.1 only: AMQP, the management API, Erlang distribution and epmd.

// rabbitmqScriptDirs are where packages keep the real start script. Debian's /usr/sbin/rabbitmq-server is a
// wrapper that switches to the rabbitmq user and the system's node; the script under /usr/lib/rabbitmq/bin is not.
var rabbitmqScriptDirs = []string{"/usr/lib/rabbitmq/bin", "/opt/homebrew/sbin", "/usr/local/sbin", "/opt/homebrew/opt/rabbitmq/sbin"}

// rabbitmqBinaries are the RabbitMQ start script and the epmd it needs.
type rabbitmqBinaries struct{ server, epmd string }

func findRabbitMQ() (rabbitmqBinaries, error) {
	var b rabbitmqBinaries
	// The package's own directories first: on Debian, PATH finds the wrapper.
	for _, d := range rabbitmqScriptDirs {
		p := filepath.Join(d, "rabbitmq-server")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			b.server = p
			break
		}
	}
	var err error
	if b.server == "" {
		if b.server, err = findBinary([]string{"rabbitmq-server"}); err != nil {
			return b, fmt.Errorf("no rabbitmq-server (Debian/Ubuntu: apt-get install rabbitmq-server; macOS: brew install rabbitmq): %w", err)
		}
	}
	if b.epmd, err = findBinary([]string{"epmd"}, "/usr/lib/erlang/bin", "/opt/homebrew/bin", "/usr/local/bin"); err != nil {
		return b, fmt.Errorf("rabbitmq-server without Erlang's epmd: %w", err)
	}
	return b, nil
}

// rabbitmqConf is the node's rabbitmq.conf: the listeners on loopback, one administrator, and the management
// API. The ports come from RABBITMQ_NODE_PORT and the management section.
const rabbitmqConf = `listeners.tcp.1 = 127.0.0.1:%d
management.tcp.ip = 127.0.0.1
management.tcp.port = %d
default_user = %s
default_pass = %s
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.console = true
log.console.level = warning
log.file = false
`

// startNativeRabbitMQ starts epmd and a RabbitMQ node, each in a process group of its own, on free loopback
// ports in a fresh work directory. Stop ends both by their PIDs and removes the directory.
func startNativeRabbitMQ(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	b, err := findRabbitMQ()
	if err != nil {
		return nil, err
	}
	dir, err := newWorkDir(RabbitMQService)
	if err != nil {
		return nil, err
	}
	fail := func(err error, procs ...*proc) (*Instance, error) {
		for _, p := range procs {
			_ = p.stop(context.Background())
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return fail(err)
	}
	amqpPort, mgmtPort, distPort, epmdPort := ports[0], ports[1], ports[2], ports[3]
	files := map[string]string{
		"rabbitmq.conf":   fmt.Sprintf(rabbitmqConf, amqpPort, mgmtPort, rabbitmqUser, rabbitmqPassword),
		"enabled_plugins": "[rabbitmq_management].\n",
		".erlang.cookie":  "LAB" + strings.ToUpper(randomID(10)), // HOME is dir: the node and rabbitmqctl read it there
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o400); err != nil {
			return fail(fmt.Errorf("write %s: %w", name, err))
		}
	}

	epmd, err := startProc(dir, "epmd.log", b.epmd, "-address", "127.0.0.1", "-port", strconv.Itoa(epmdPort))
	if err != nil {
		return fail(err)
	}
	epmdAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(epmdPort))
	readyCtx, cancel := context.WithTimeout(ctx, rabbitmqReadyTimeout)
	defer cancel()
	if err := epmd.waitReady(readyCtx, func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", epmdAddr)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return fail(err, epmd)
	}

	node := "lab-" + randomID(4) + "@localhost"
	env := rabbitmqNodeEnv(dir, node, epmdPort)
	env = append(env,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_LOGS=-",
		// With RABBITMQ_ALLOW_INPUT the script execs the Erlang VM instead of running it in the background
		// behind a shell: the VM keeps the script's PID, so the parent-death signal and Stop reach it. -noinput
		// gives back what the variable takes away. epmd is ours; distribution listens on loopback only.
		"RABBITMQ_ALLOW_INPUT=1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-noinput -start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
	)
	server, err := startProcWith(procOptions{env: env}, dir, "rabbitmq.log", b.server)
	if err != nil {
		return fail(err, epmd)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(amqpPort))
	adminURL := rabbitmqAdminURL(net.JoinHostPort("127.0.0.1", strconv.Itoa(mgmtPort)))
	var version string
	if err := server.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = rabbitmqVersion(ctx, addr, adminURL)
		return err
	}); err != nil {
		if strings.Contains(server.tail(), "already_used") || strings.Contains(server.tail(), "eaddrinuse") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fail(err, server, epmd)
	}
	return &Instance{
		Service: RabbitMQService, Provider: ProviderNative, Addr: addr, AdminDSN: adminURL, Version: version,
		Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			// The node first: it deregisters from epmd on the way out.
			return errors.Join(server.stop(ctx), epmd.stop(ctx), os.RemoveAll(dir))
		},
		pid: server.cmd.Process.Pid, dir: dir,
	}, nil
}

// rabbitmqNodeEnv is what both the node and the CLI tools (rabbitmqctl, rabbitmq-diagnostics) need to find
// each other: the node name, the cookie in HOME, and the epmd port. The system's rabbitmq-env.conf is ignored.
func rabbitmqNodeEnv(dir, node string, epmdPort int) []string {
	return []string{
		"HOME=" + dir,
		"RABBITMQ_NODENAME=" + node,
		"RABBITMQ_CONF_ENV_FILE=" + os.DevNull,
		"ERL_EPMD_PORT=" + strconv.Itoa(epmdPort),
	}
}
