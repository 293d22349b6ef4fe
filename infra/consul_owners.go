package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	consulapi "github.com/hashicorp/consul/api"
)

// A Consul namespace (Consul(t)) is removed by the test's cleanup. A test binary killed before its cleanups
// (Ctrl-C during a check, a -timeout panic, kill -9) leaves its services registered on an agent that
// outlives it: the one `labctl infra up` keeps, or the learner's own at LAB_CONSUL_ADDR. Discovery then
// returns instances that do not exist. So each namespace records its owner under consulOwnersKV, and a
// sweep removes the namespaces whose owner process on this host has died: labctl runs it after an
// interrupted check and before each check, and every test binary runs it before its first namespace.

// consulOwnersKV holds one key per live namespace: <consulOwnersKV><prefix> = {"host": ..., "pid": ...}.
const consulOwnersKV = "microlab/owners/"

type consulOwner struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

func thisConsulOwner() consulOwner {
	host, _ := os.Hostname()
	return consulOwner{Host: host, PID: os.Getpid()}
}

// recordConsulOwner says that this process owns prefix on the agent at addr.
func recordConsulOwner(ctx context.Context, addr, prefix string) error {
	c, err := newConsulClient(addr)
	if err != nil {
		return err
	}
	value, err := json.Marshal(thisConsulOwner())
	if err != nil {
		return err
	}
	_, err = c.KV().Put(&consulapi.KVPair{Key: consulOwnersKV + prefix, Value: value}, (&consulapi.WriteOptions{}).WithContext(ctx))
	return err
}

// SweepConsul removes the services and keys of the namespaces on the agent at addr whose owner process,
// on this host, has died. Namespaces of live processes and of other hosts are left alone.
func SweepConsul(ctx context.Context, addr string) error {
	c, err := newConsulClient(addr)
	if err != nil {
		return err
	}
	pairs, _, err := c.KV().List(consulOwnersKV, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("list Consul namespace owners: %w", err)
	}
	me := thisConsulOwner()
	var errs []error
	for _, p := range pairs {
		prefix := strings.TrimPrefix(p.Key, consulOwnersKV)
		var o consulOwner
		if !strings.HasPrefix(prefix, "lab-") || len(prefix) <= len("lab-") || json.Unmarshal(p.Value, &o) != nil {
			continue // not a record of ours: never delete by a prefix we did not make
		}
		if o.Host != me.Host || o.PID <= 0 || !ownerDead(o.PID) {
			continue
		}
		if err := consulDeletePrefix(ctx, ConsulEndpoint{Addr: addr, Prefix: prefix}); err != nil {
			errs = append(errs, fmt.Errorf("remove Consul namespace %s of dead process %d: %w", prefix, o.PID, err))
		}
	}
	return errors.Join(errs...)
}

// ownerDead says whether pid is gone or a zombie: a test binary killed with its go command is reparented,
// and is a zombie until its new parent reaps it (some containers' PID 1 never does).
func ownerDead(pid int) bool {
	if !pidAlive(pid) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)) // Linux; elsewhere a live pid is a live owner
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, so the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// consulSwept remembers the agents this process has swept: once per agent and test binary is enough.
var consulSwept sync.Map

func sweepConsulOnce(ctx context.Context, addr string) error {
	if _, done := consulSwept.LoadOrStore(addr, true); done {
		return nil
	}
	return SweepConsul(ctx, addr)
}

// newConsulClient is a client for the few calls infra makes itself (owner records, sweeps, cleanups). Its
// connections close after each request: a client per call with keep-alive would leave an idle connection
// open per test for 90 s, and Consul refuses a client address with more than 200 open connections
// (http_max_conns_per_client), which tests run with -count=20 on a shared agent reached.
func newConsulClient(addr string) (*consulapi.Client, error) {
	return consulapi.NewClient(&consulapi.Config{Address: addr,
		HttpClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
}
