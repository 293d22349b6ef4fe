package infra

import (
	"fmt"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

var consulCases = []conformanceCase{
	{"register_with_check", consulRegisterWithCheck},
	{"passing_only", consulPassingOnly},
	{"blocking_query_wakes", consulBlockingQuery},
	{"kv_cas", consulKVCAS},
	{"deregister", consulDeregister},
}

func openConsul(t *testing.T, inst *Instance) (*consulapi.Client, string) {
	t.Helper()
	ep := consulNamespace(t, inst)
	c, err := consulapi.NewClient(&consulapi.Config{Address: ep.Addr})
	if err != nil {
		t.Fatalf("consul NewClient: %v", err)
	}
	return c, ep.Prefix
}

// register adds an instance of service with a TTL check in the given status (api.HealthPassing or api.HealthCritical).
func register(t *testing.T, c *consulapi.Client, service, id, status string) {
	t.Helper()
	err := c.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{
		ID: id, Name: service, Address: "127.0.0.1", Port: 8080,
		Check: &consulapi.AgentServiceCheck{CheckID: id + "-ttl", TTL: "1m", Status: status},
	})
	if err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// healthy returns the ids of service's instances in the catalog, only passing ones if passingOnly.
func healthy(c *consulapi.Client, service string, passingOnly bool, opts *consulapi.QueryOptions) ([]string, *consulapi.QueryMeta, error) {
	entries, meta, err := c.Health().Service(service, "", passingOnly, opts)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	return ids, meta, nil
}

func wantIDs(c *consulapi.Client, service string, passingOnly bool, want ...string) func() error {
	return func() error {
		ids, _, err := healthy(c, service, passingOnly, nil)
		if err != nil {
			return err
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			return fmt.Errorf("health.service(%s, passing=%v) = %v, want %v", service, passingOnly, ids, want)
		}
		return nil
	}
}

func consulRegisterWithCheck(t *testing.T, inst *Instance) {
	c, prefix := openConsul(t, inst)
	svc := prefix + "orders"
	register(t, c, svc, svc+"-1", consulapi.HealthPassing)
	eventually(t, 5*time.Second, "registered instance appears", wantIDs(c, svc, false, svc+"-1"))
	checks, _, err := c.Health().Checks(svc, nil)
	if err != nil {
		t.Fatalf("health checks: %v", err)
	}
	if len(checks) != 1 || checks[0].Status != consulapi.HealthPassing {
		t.Errorf("checks of %s = %v, want one passing check", svc, checks)
	}
}

func consulPassingOnly(t *testing.T, inst *Instance) {
	c, prefix := openConsul(t, inst)
	svc := prefix + "orders"
	register(t, c, svc, svc+"-a", consulapi.HealthPassing)
	register(t, c, svc, svc+"-b", consulapi.HealthCritical)
	eventually(t, 5*time.Second, "both instances in the catalog", wantIDs(c, svc, false, svc+"-a", svc+"-b"))
	eventually(t, 5*time.Second, "passing-only query", wantIDs(c, svc, true, svc+"-a"))
	if err := c.Agent().UpdateTTL(svc+"-b-ttl", "recovered", consulapi.HealthPassing); err != nil {
		t.Fatalf("UpdateTTL: %v", err)
	}
	eventually(t, 5*time.Second, "recovered instance becomes passing", wantIDs(c, svc, true, svc+"-a", svc+"-b"))
}

func consulBlockingQuery(t *testing.T, inst *Instance) {
	c, prefix := openConsul(t, inst)
	svc := prefix + "orders"
	register(t, c, svc, svc+"-1", consulapi.HealthPassing)
	eventually(t, 5*time.Second, "first instance appears", wantIDs(c, svc, true, svc+"-1"))
	_, meta, err := healthy(c, svc, true, nil)
	if err != nil {
		t.Fatalf("health query: %v", err)
	}
	type result struct {
		ids     []string
		index   uint64
		elapsed time.Duration
		err     error
	}
	woke := make(chan result, 1)
	go func() {
		begin := time.Now()
		ids, m, err := healthy(c, svc, true, &consulapi.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
		r := result{ids: ids, elapsed: time.Since(begin), err: err}
		if m != nil {
			r.index = m.LastIndex
		}
		woke <- r
	}()
	time.Sleep(200 * time.Millisecond) // let the query block
	register(t, c, svc, svc+"-2", consulapi.HealthPassing)
	select {
	case r := <-woke:
		if r.err != nil {
			t.Fatalf("blocking query: %v", r.err)
		}
		if r.index <= meta.LastIndex {
			t.Errorf("blocking query index = %d, want more than %d", r.index, meta.LastIndex)
		}
		if len(r.ids) != 2 {
			t.Errorf("blocking query woke after %v with %v, want both instances", r.elapsed, r.ids)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking query did not wake within 10s of a registration")
	}
	eventually(t, 5*time.Second, "second instance visible", wantIDs(c, svc, true, svc+"-1", svc+"-2"))
}

func consulKVCAS(t *testing.T, inst *Instance) {
	c, prefix := openConsul(t, inst)
	kv := c.KV()
	key := prefix + "config/limit"
	if _, err := kv.Put(&consulapi.KVPair{Key: key, Value: []byte("10")}, nil); err != nil {
		t.Fatalf("KV put: %v", err)
	}
	pair, _, err := kv.Get(key, nil)
	if err != nil || pair == nil {
		t.Fatalf("KV get = %v, %v; want the pair", pair, err)
	}
	stale := pair.ModifyIndex
	ok, _, err := kv.CAS(&consulapi.KVPair{Key: key, Value: []byte("20"), ModifyIndex: stale}, nil)
	if err != nil || !ok {
		t.Fatalf("CAS with the current index = %v, %v; want true, nil", ok, err)
	}
	ok, _, err = kv.CAS(&consulapi.KVPair{Key: key, Value: []byte("30"), ModifyIndex: stale}, nil)
	if err != nil || ok {
		t.Fatalf("CAS with a stale index = %v, %v; want false, nil", ok, err)
	}
	pair, _, err = kv.Get(key, nil)
	if err != nil || pair == nil || string(pair.Value) != "20" {
		t.Errorf("value after the CASes = %v, %v; want 20", pair, err)
	}
}

func consulDeregister(t *testing.T, inst *Instance) {
	c, prefix := openConsul(t, inst)
	svc := prefix + "orders"
	register(t, c, svc, svc+"-1", consulapi.HealthPassing)
	eventually(t, 5*time.Second, "registered instance appears", wantIDs(c, svc, false, svc+"-1"))
	if err := c.Agent().ServiceDeregister(svc + "-1"); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	eventually(t, 5*time.Second, "deregistered instance disappears", wantIDs(c, svc, false))
}
