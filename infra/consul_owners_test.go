package infra

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// A test binary killed before its cleanups (Ctrl-C during `labctl check 05`) must not leave services on a
// Consul agent that outlives it: the next namespace on that agent sweeps them, and a live test's stay.

const envConsulOwnerChild = "LAB_INFRA_CONSUL_OWNER_CHILD"

// childTB is the little of testing.TB that Consul(t) uses, for a child run from TestMain.
type childTB struct{ testing.TB }

func (childTB) Helper()        {}
func (childTB) Cleanup(func()) {} // the parent kills the child before any cleanup could run: that is the point
func (childTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (childTB) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// consulOwnerChild registers a service and a key in a namespace of the agent at LAB_CONSUL_ADDR, prints
// the prefix and waits to be killed.
func consulOwnerChild() {
	ce := Consul(childTB{})
	c, err := consulapi.NewClient(&consulapi.Config{Address: ce.Addr})
	if err == nil {
		err = c.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: ce.Prefix + "orders-1", Name: ce.Prefix + "orders", Port: 1})
	}
	if err == nil {
		_, err = c.KV().Put(&consulapi.KVPair{Key: ce.Prefix + "config/limit", Value: []byte("10")}, nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	fmt.Println(ce.Prefix)
	select {}
}

func consulServices(t *testing.T, c *consulapi.Client, prefix string) []string {
	t.Helper()
	services, err := c.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for id := range services {
		if strings.HasPrefix(id, prefix) {
			names = append(names, id)
		}
	}
	return names
}

func TestKilledTestLeavesNoConsulService(t *testing.T) {
	mine := Consul(t) // the shared agent, which the child reaches as the env provider's, like a labctl check's tests
	c, err := consulapi.NewClient(&consulapi.Config{Address: mine.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: mine.Prefix + "live-1", Name: mine.Prefix + "live", Port: 1}); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envConsulOwnerChild+"=1", EnvConsulAddr+"="+mine.Addr, "LAB_INFRA=env")
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var prefix string
	select {
	case prefix = <-lines:
	case <-time.After(time.Minute): // generous: the child is a fresh test binary on a loaded machine
		t.Fatal("the child printed no prefix within a minute")
	}
	if !strings.HasPrefix(prefix, "lab-") {
		t.Fatalf("child printed %q, want its Consul prefix", prefix)
	}
	if got := consulServices(t, c, prefix); len(got) != 1 {
		t.Fatalf("before the kill, the child's services = %v, want its one registration", got)
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL: no cleanup runs, as when a check is interrupted
		t.Fatal(err)
	}
	_ = child.Wait()

	// Whoever uses the agent next (a new namespace in any test binary) sweeps the dead child's namespace.
	consulSwept.Delete(mine.Addr) // this binary swept once already, before the child existed
	_ = Consul(t)
	if got := consulServices(t, c, prefix); len(got) != 0 {
		t.Errorf("after the child was killed and a new namespace started, its services = %v, want none: discovery would return instances that do not exist", got)
	}
	if keys, _, err := c.KV().Keys(prefix, "", nil); err != nil || len(keys) != 0 {
		t.Errorf("after the sweep, the child's keys = %v (%v), want none", keys, err)
	}
	if got := consulServices(t, c, mine.Prefix); len(got) != 1 {
		t.Errorf("after the sweep, this live test's services = %v, want its registration kept", got)
	}

	// labctl's own sweep (before a check, after an interrupted one) finds nothing left, and keeps live namespaces.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := SweepConsul(ctx, mine.Addr); err != nil {
		t.Errorf("SweepConsul: %v", err)
	}
	if got := consulServices(t, c, mine.Prefix); len(got) != 1 {
		t.Errorf("after SweepConsul, this live test's services = %v, want its registration kept", got)
	}
}
