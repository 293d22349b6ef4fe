package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// `labctl infra up` keeps servers running after it returns. It starts a detached copy of labctl
// (`labctl infra serve`, which calls Serve) in a session of its own. That process owns the servers: they die with
// it, as in a test binary, and in-process servers live inside it. It writes State to .labctl/infra.json once the
// servers answer, and removes it when it stops. `labctl infra down` sends it SIGTERM and waits.

// State is what the serving process writes to .labctl/infra.json.
type State struct {
	PID       int             `json:"pid"` // the serving process
	Started   time.Time       `json:"started"`
	Log       string          `json:"log"` // its output
	Env       []string        `json:"env"` // NAME=value for the env provider
	Instances []StateInstance `json:"instances"`
}

// StateInstance describes one server in State.
type StateInstance struct {
	Service  Service           `json:"service"`
	Provider string            `json:"provider"`
	Addr     string            `json:"addr"`
	Brokers  []string          `json:"brokers,omitempty"`
	AdminDSN string            `json:"admin_dsn,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
	Version  string            `json:"version"`
	PID      int               `json:"pid,omitempty"` // native server process
	Dir      string            `json:"dir,omitempty"` // its work directory
}

// StatePath returns the state file of the course at root.
func StatePath(root string) string { return filepath.Join(root, ".labctl", "infra.json") }

// ErrNotUp means that no `labctl infra up` is running for this course.
var ErrNotUp = errors.New("no infrastructure is up")

// ReadState reads the state file; it returns ErrNotUp when there is none or its process is gone.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotUp
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if st.PID <= 0 || !pidAlive(st.PID) {
		return &st, fmt.Errorf("%s names process %d, which is gone: %w", path, st.PID, ErrNotUp)
	}
	return &st, nil
}

func writeState(path string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil { // the admin DSN may hold a password
		return err
	}
	return os.Rename(tmp, path)
}

// Serve starts services, writes the state file, and keeps the servers until ctx ends; then it stops them
// and removes the state file. It is the body of `labctl infra serve`.
func Serve(ctx context.Context, services []Service, statePath string, logf func(string, ...any)) error {
	s, err := StartSession(ctx, services, logf)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Close(stopCtx); err != nil {
			logf("stop: %v", err)
		}
		_ = os.Remove(statePath)
		logf("stopped")
	}()
	st := &State{PID: os.Getpid(), Started: time.Now(), Log: os.Getenv("LABCTL_INFRA_LOG"), Env: s.Env}
	for _, inst := range s.Instances {
		st.Instances = append(st.Instances, StateInstance{
			Service: inst.Service, Provider: inst.Provider, Addr: inst.Addr, Brokers: inst.Brokers,
			AdminDSN: inst.AdminDSN, Extra: inst.Extra, Version: inst.Version, PID: inst.pid, Dir: inst.dir,
		})
	}
	if err := writeState(statePath, st); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	logf("ready; state in %s", statePath)
	<-ctx.Done()
	return nil
}

// upStopGrace is how long Up waits for a serving process it gives up on to stop by itself before killing it.
const upStopGrace = 30 * time.Second

// Up starts command (a labctl binary and the arguments that make it call Serve) detached from this process,
// and waits until it has written statePath. If servers are already up, it returns their state.
// The serving process gets this environment minus the env-provider variables, so that it starts servers of its
// own rather than pointing at others.
func Up(ctx context.Context, statePath string, command []string) (*State, error) {
	if st, err := ReadState(statePath); err == nil {
		return st, nil
	}
	_ = os.Remove(statePath) // stale
	if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(filepath.Dir(statePath), "infra.log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = detachedAttr()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(envProviderVars(), name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LABCTL_INFRA_LOG="+logPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", command[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		if st, err := ReadState(statePath); err == nil && st.PID == cmd.Process.Pid {
			return st, nil
		}
		select {
		case err := <-exited:
			tail, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("infrastructure process exited (%v):\n%s", err, lastLines(string(tail), 20))
		case <-ctx.Done():
			// Ask it to stop first, so that it removes the containers and directories it has made so far.
			_ = terminateGroup(cmd.Process.Pid)
			select {
			case <-exited:
			case <-time.After(upStopGrace):
				_ = killGroup(cmd.Process.Pid)
				<-exited
			}
			return nil, fmt.Errorf("waiting for the infrastructure to start: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Down stops what Up started and removes the Docker containers this lab created. It returns one line per
// thing it stopped or removed.
func Down(ctx context.Context, statePath string) ([]string, error) {
	done, err := stopServing(ctx, statePath)
	errs := []error{err}
	removed, err := dockerDown(ctx)
	if err != nil && !errors.Is(err, errDockerUnavailable) {
		errs = append(errs, fmt.Errorf("remove containers: %w", err))
	}
	for _, r := range removed {
		done = append(done, "removed container "+r)
	}
	return done, errors.Join(errs...)
}

// stopServing stops the serving process of statePath, makes sure its native servers are gone, and removes their
// directories and the state file.
func stopServing(ctx context.Context, statePath string) ([]string, error) {
	var done []string
	var errs []error
	st, err := ReadState(statePath)
	switch {
	case err == nil:
		_ = terminateGroup(st.PID)
		if !waitGone(ctx, st.PID, 30*time.Second) {
			_ = killGroup(st.PID)
			waitGone(ctx, st.PID, 5*time.Second)
		}
		done = append(done, fmt.Sprintf("stopped infrastructure process %d", st.PID))
	case errors.Is(err, ErrNotUp):
	default:
		errs = append(errs, err)
	}
	if st != nil {
		// The servers die with the serving process; make sure, and remove their directories.
		for _, in := range st.Instances {
			// The PID may belong to another process by now: kill it only if it still runs in the server's directory.
			if in.PID > 0 && pidAlive(in.PID) && runsIn(in.PID, in.Dir) {
				_ = killGroup(in.PID)
				done = append(done, fmt.Sprintf("killed %s process %d", in.Service, in.PID))
			}
			if _, statErr := os.Stat(in.Dir); in.Dir != "" && statErr == nil {
				if err := os.RemoveAll(in.Dir); err == nil {
					done = append(done, "removed "+in.Dir)
				}
			}
		}
	}
	if err := os.Remove(statePath); err == nil {
		done = append(done, "removed "+statePath)
	}
	return done, errors.Join(errs...)
}

func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for pidAlive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// InstanceStatus is what Status found about one server.
type InstanceStatus struct {
	StateInstance
	Err error // nil when the server answers
}

// Status reads the state file and probes every server in it.
func Status(ctx context.Context, statePath string) (*State, []InstanceStatus, error) {
	st, err := ReadState(statePath)
	if err != nil {
		return st, nil, err
	}
	var out []InstanceStatus
	for _, in := range st.Instances {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var perr error
		switch in.Service {
		case MySQLService:
			_, perr = mysqlVersion(pctx, in.AdminDSN)
		case RedisService:
			_, perr = redisVersion(pctx, in.Addr)
		case ConsulService:
			_, perr = consulVersion(pctx, in.Addr)
		case KafkaService:
			_, perr = kafkaVersion(pctx, in.Brokers)
		case PostgresService:
			_, perr = postgresVersion(pctx, in.AdminDSN)
		case RabbitMQService:
			_, perr = rabbitmqVersion(pctx, in.Addr, in.AdminDSN)
		case JaegerService:
			_, perr = jaegerVersion(pctx, in.Addr, in.Extra[extraQueryURL])
		case PrometheusService:
			_, perr = prometheusVersion(pctx, in.Extra[extraURL])
		case EtcdService:
			eps := in.Brokers
			if len(eps) == 0 {
				eps = []string{in.Addr}
			}
			_, perr = etcdVersion(pctx, eps)
		}
		cancel()
		out = append(out, InstanceStatus{StateInstance: in, Err: perr})
	}
	return st, out, nil
}
