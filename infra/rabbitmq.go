package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitMQ servers of every provider run the management plugin: its HTTP API creates and deletes the virtual
// host each test gets, which AMQP 0-9-1 itself cannot do. Native and Docker servers have one user,
// rabbitmqUser, with every right; the env provider uses the credentials in its URL.

// RabbitMQEndpoint is a RabbitMQ namespace: a virtual host of its own on a shared server. Exchanges, queues
// and bindings declared through URL live in that vhost only, and other endpoints cannot see them.
type RabbitMQEndpoint struct {
	URL    string // amqp://user:pass@127.0.0.1:port/vhost, for amqp091-go's Dial
	Vhost  string // the virtual host, unique per call
	Prefix string // unique per call, ends with "-": name things with it where a name must be unique beyond the vhost
}

// RabbitMQ returns a virtual host of its own on a shared RabbitMQ server, with every permission for the
// endpoint's user. It is created through the management HTTP API (on every provider) and deleted at cleanup,
// with all its exchanges and queues.
func RabbitMQ(t testing.TB) RabbitMQEndpoint {
	t.Helper()
	return rabbitmqNamespace(t, need(t, RabbitMQService))
}

// The user of native and Docker servers. They listen on loopback only.
const (
	rabbitmqUser     = "microlab"
	rabbitmqPassword = "microlab"
)

// rabbitmqAdminURL is the management API of a server this package started: http://user:pass@host:port.
func rabbitmqAdminURL(mgmtAddr string) string {
	return (&url.URL{Scheme: "http", User: url.UserPassword(rabbitmqUser, rabbitmqPassword), Host: mgmtAddr}).String()
}

// rabbitmqNamespace creates vhost lab-<random> and gives the admin user every permission on it; the vhost is
// deleted at cleanup.
func rabbitmqNamespace(t testing.TB, inst *Instance) RabbitMQEndpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	admin, err := url.Parse(inst.AdminDSN)
	if err != nil || admin.User == nil {
		t.Fatalf("%s RabbitMQ management URL of %s server is not http://user:pass@host:port: %v", UnavailablePrefix, inst.Provider, err)
	}
	vhost := "lab-" + randomID(6)
	if err := rabbitmqCreateVhost(ctx, admin, vhost); err != nil {
		t.Fatalf("%s create vhost on %s RabbitMQ at %s: %v", UnavailablePrefix, inst.Provider, inst.Addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := rabbitmqAPI(ctx, admin, http.MethodDelete, "/api/vhosts/"+url.PathEscape(vhost), nil, nil); err != nil {
			t.Logf("infra: delete RabbitMQ vhost %s: %v", vhost, err)
		}
	})
	u := &url.URL{Scheme: "amqp", User: admin.User, Host: inst.Addr, Path: "/" + vhost}
	return RabbitMQEndpoint{URL: u.String(), Vhost: vhost, Prefix: vhost + "-"}
}

func rabbitmqCreateVhost(ctx context.Context, admin *url.URL, vhost string) error {
	if err := rabbitmqAPI(ctx, admin, http.MethodPut, "/api/vhosts/"+url.PathEscape(vhost), map[string]any{}, nil); err != nil {
		return err
	}
	perms := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	return rabbitmqAPI(ctx, admin, http.MethodPut,
		"/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(admin.User.Username()), perms, nil)
}

// rabbitmqAPI calls the management HTTP API at admin (whose user info authenticates) and decodes the JSON
// answer into out when it is not nil.
func rabbitmqAPI(ctx context.Context, admin *url.URL, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	// path is already escaped (a vhost may hold "/", as %2F): join strings rather than setting URL.Path.
	base := url.URL{Scheme: admin.Scheme, Host: admin.Host}
	req, err := http.NewRequestWithContext(ctx, method, base.String()+path, r)
	if err != nil {
		return err
	}
	pass, _ := admin.User.Password()
	req.SetBasicAuth(admin.User.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("RabbitMQ management API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return fmt.Errorf("RabbitMQ management API %s %s: %s %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// rabbitmqVersion checks that both the management API at adminURL and AMQP at amqpAddr answer, and returns
// what the server calls itself. The management API answers once every plugin has started, after AMQP.
func rabbitmqVersion(ctx context.Context, amqpAddr, adminURL string) (string, error) {
	admin, err := url.Parse(adminURL)
	if err != nil || admin.User == nil {
		return "", fmt.Errorf("RabbitMQ management URL %q: want http://user:pass@host:port", adminURL)
	}
	var overview struct {
		RabbitMQ string `json:"rabbitmq_version"`
		Erlang   string `json:"erlang_version"`
	}
	if err := rabbitmqAPI(ctx, admin, http.MethodGet, "/api/overview", nil, &overview); err != nil {
		return "", err
	}
	u := &url.URL{Scheme: "amqp", User: admin.User, Host: amqpAddr, Path: "/"}
	conn, err := amqp.DialConfig(u.String(), amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
		d := net.Dialer{}
		return d.DialContext(ctx, network, addr)
	}})
	if err != nil {
		return "", fmt.Errorf("AMQP connect to %s: %w", amqpAddr, err)
	}
	_ = conn.Close()
	return "RabbitMQ " + overview.RabbitMQ + ", Erlang " + overview.Erlang, nil
}

// EnvRabbitMQURL (LAB_RABBITMQ_URL) names a running RabbitMQ for the env provider: the AMQP URL of a user
// allowed to create vhosts (an administrator), with the management API's address as a query parameter:
// amqp://user:pass@127.0.0.1:5672/?management=127.0.0.1:15672. Without the parameter the management API is
// looked for on the AMQP host at port 15672, RabbitMQ's default.
const EnvRabbitMQURL = "LAB_RABBITMQ_URL"

// rabbitmqEnvValue is LAB_RABBITMQ_URL for inst.
func rabbitmqEnvValue(inst *Instance) string {
	admin, err := url.Parse(inst.AdminDSN)
	if err != nil {
		return ""
	}
	u := &url.URL{Scheme: "amqp", User: admin.User, Host: inst.Addr, Path: "/", RawQuery: "management=" + admin.Host}
	return u.String()
}

// parseRabbitMQEnv reads LAB_RABBITMQ_URL: the AMQP address and the management URL with its credentials.
func parseRabbitMQEnv(value string) (amqpAddr, adminURL string, err error) {
	u, err := url.Parse(value)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", EnvRabbitMQURL, err)
	}
	if u.Scheme != "amqp" || u.Host == "" || u.User == nil {
		return "", "", fmt.Errorf("%s=%q: want amqp://user:pass@host:port/?management=host:port", EnvRabbitMQURL, value)
	}
	amqpAddr = u.Host
	if u.Port() == "" {
		amqpAddr = net.JoinHostPort(u.Hostname(), "5672")
	}
	mgmt := u.Query().Get("management")
	if mgmt == "" {
		mgmt = net.JoinHostPort(u.Hostname(), "15672")
	}
	return amqpAddr, (&url.URL{Scheme: "http", User: u.User, Host: mgmt}).String(), nil
}

// errNoInprocessRabbitMQ explains why the in-process provider never serves RabbitMQ.
var errNoInprocessRabbitMQ = fmt.Errorf("no in-process RabbitMQ, because no Go library serves AMQP 0-9-1 "+
	"(amqp091-go is a client only); the native (rabbitmq-server) or Docker provider serves it: %w", ErrUnsupported)

// rabbitmqReadyTimeout bounds a RabbitMQ start: the Erlang VM and the management plugin take 5-10 s on a
// quiet machine with two cores, and several times that when the machine is busy.
const rabbitmqReadyTimeout = 2 * time.Minute
