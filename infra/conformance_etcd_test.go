package infra

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

var etcdCases = []conformanceCase{
	{"put_get", etcdPutGet},
	{"lease_expiry", etcdLeaseExpiry},
	{"watch_put_delete", etcdWatch},
	{"txn_compare_and_swap", etcdTxnCAS},
	{"namespaces_apart", etcdNamespacesApart},
}

func openEtcd(t *testing.T, inst *Instance) (*clientv3.Client, string) {
	t.Helper()
	ep := etcdNamespace(t, inst)
	c, err := clientv3.New(clientv3.Config{Endpoints: ep.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New(%v): %v", ep.Endpoints, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ep.Prefix
}

func etcdCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func etcdPutGet(t *testing.T, inst *Instance) {
	c, prefix := openEtcd(t, inst)
	ctx := etcdCtx(t)
	key := prefix + "config/timeout"
	put, err := c.Put(ctx, key, "300ms")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "300ms" {
		t.Fatalf("Get(%s) = %v, want one key with value 300ms", key, got.Kvs)
	}
	if got.Kvs[0].ModRevision != put.Header.Revision {
		t.Errorf("ModRevision = %d, want the Put's revision %d", got.Kvs[0].ModRevision, put.Header.Revision)
	}
	if _, err := c.Put(ctx, prefix+"config/retries", "3"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	all, err := c.Get(ctx, prefix+"config/", clientv3.WithPrefix())
	if err != nil || all.Count != 2 {
		t.Fatalf("Get(prefix) = %v keys, %v; want 2, nil", all.Count, err)
	}
}

func etcdLeaseExpiry(t *testing.T, inst *Instance) {
	c, prefix := openEtcd(t, inst)
	ctx := etcdCtx(t)
	lease, err := c.Grant(ctx, 1) // the shortest TTL: 1 s (a server may raise it to its minimum, 1.5 x election timeout)
	if err != nil {
		t.Fatalf("Grant(1): %v", err)
	}
	key := prefix + "services/a"
	if _, err := c.Put(ctx, key, "127.0.0.1:1", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatalf("Put with lease: %v", err)
	}
	if got, err := c.Get(ctx, key); err != nil || got.Count != 1 {
		t.Fatalf("Get right after Put with lease = %v keys, %v; want 1", got.Count, err)
	}
	begin := time.Now()
	eventually(t, 15*time.Second, "a key put with a 1 s lease that nobody keeps alive is deleted", func() error {
		got, err := c.Get(ctx, key)
		if err != nil {
			return err
		}
		if got.Count != 0 {
			return errors.New("the key is still there")
		}
		return nil
	})
	t.Logf("key gone %v after the Put (lease TTL 1 s)", time.Since(begin).Round(10*time.Millisecond))
	if ttl, err := c.TimeToLive(ctx, lease.ID); err != nil || ttl.TTL != -1 {
		t.Errorf("TimeToLive(expired lease) = %+v, %v; want TTL -1 (lease gone)", ttl, err)
	}
}

func etcdWatch(t *testing.T, inst *Instance) {
	c, prefix := openEtcd(t, inst)
	ctx := etcdCtx(t)
	key := prefix + "config/flag"
	// Watch from the revision after a known one, so that the events cannot be missed whatever the timing.
	start, err := c.Put(ctx, prefix+"marker", "x")
	if err != nil {
		t.Fatalf("Put marker: %v", err)
	}
	wch := c.Watch(ctx, key, clientv3.WithRev(start.Header.Revision+1))
	if _, err := c.Put(ctx, key, "on"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := c.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case resp, ok := <-wch:
			if !ok {
				t.Fatalf("watch channel closed after %v", got)
			}
			if err := resp.Err(); err != nil {
				t.Fatalf("watch: %v", err)
			}
			for _, ev := range resp.Events {
				got = append(got, ev.Type.String()+" "+string(ev.Kv.Value))
			}
		case <-ctx.Done():
			t.Fatalf("watch saw %v, want a PUT and a DELETE: %v", got, ctx.Err())
		}
	}
	if got[0] != "PUT on" || got[1] != "DELETE " {
		t.Errorf("watch events = %q, want [\"PUT on\" \"DELETE \"]", got)
	}
}

func etcdTxnCAS(t *testing.T, inst *Instance) {
	c, prefix := openEtcd(t, inst)
	ctx := etcdCtx(t)
	key := prefix + "leader"
	// Create only if absent (CreateRevision 0): the classic election or lock step.
	claim := func(who string) (bool, error) {
		resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, who)).Commit()
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	}
	if ok, err := claim("a"); err != nil || !ok {
		t.Fatalf("first create-if-absent txn = %v, %v; want true", ok, err)
	}
	if ok, err := claim("b"); err != nil || ok {
		t.Fatalf("second create-if-absent txn = %v, %v; want false", ok, err)
	}
	// Compare-and-swap on the value.
	resp, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", "b")).Then(clientv3.OpPut(key, "c")).Commit()
	if err != nil || resp.Succeeded {
		t.Fatalf("CAS expecting b = %v, %v; want false (the value is a)", resp.Succeeded, err)
	}
	resp, err = c.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", "a")).Then(clientv3.OpPut(key, "c")).Commit()
	if err != nil || !resp.Succeeded {
		t.Fatalf("CAS expecting a = %v, %v; want true", resp.Succeeded, err)
	}
	if got, err := c.Get(ctx, key); err != nil || string(got.Kvs[0].Value) != "c" {
		t.Errorf("value after the CAS = %v, %v; want c", got.Kvs, err)
	}
}

func etcdNamespacesApart(t *testing.T, inst *Instance) {
	c, a := openEtcd(t, inst)
	_, b := openEtcd(t, inst)
	ctx := etcdCtx(t)
	if a == b {
		t.Fatalf("two namespaces share the prefix %q", a)
	}
	if _, err := c.Put(ctx, a+"k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got, err := c.Get(ctx, b, clientv3.WithPrefix()); err != nil || got.Count != 0 {
		t.Errorf("Get(%s*) = %d keys, %v; want 0: another namespace's keys leak in", b, got.Count, err)
	}
}
