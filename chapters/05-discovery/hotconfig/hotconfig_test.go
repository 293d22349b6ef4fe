package hotconfig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/05-discovery/hotconfig"
	"github.com/gomicrolab/microlab/chapters/05-discovery/internal/consultest"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

func put(t *testing.T, kv *api.KV, key, value string) {
	t.Helper()
	_, err := kv.Put(&api.KVPair{Key: key, Value: []byte(value)}, nil)
	require.NoError(t, err, "put %s", key)
}

func putLimits(t *testing.T, kv *api.KV, key string, l hotconfig.Limits) {
	t.Helper()
	b, err := json.Marshal(l)
	require.NoError(t, err)
	put(t, kv, key, string(b))
}

// current reads the watcher's value and fails (instead of panicking) when there is none.
func current(t *testing.T, w *hotconfig.Watcher) hotconfig.Limits {
	t.Helper()
	p := w.Current()
	require.NotNil(t, p, "Watcher.Current() = nil, want the limits in force")
	return *p
}

func waitFor(t *testing.T, w *hotconfig.Watcher, want hotconfig.Limits, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := current(t, w)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Watcher.Current() = %+v %v after the change, want %+v", got, limit, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start watches key until the test ends, and checks that the watch stops when its context does.
func start(t *testing.T, kv *api.KV, key string, opts hotconfig.Options) *hotconfig.Watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := hotconfig.Watch(ctx, kv, key, opts)
	if err != nil {
		cancel()
		require.NoError(t, err, "Watch(%s)", key)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.Done():
		case <-time.After(2 * time.Second):
			t.Errorf("the watch on %s had not stopped 2s after its context was cancelled", key)
		}
	})
	return w
}

var base = hotconfig.Limits{MinOrderCents: 100, MaxOrderCents: 50_000, MaxItems: 10}

func TestConfigStartup(t *testing.T) {
	ce := infra.Consul(t)
	kv := consultest.Client(t, ce.Addr).KV()
	tests := []struct {
		name    string
		value   *string // nil: the key does not exist
		wantErr error
	}{
		{"valid value", ptr(`{"min_order_cents": 100, "max_order_cents": 50000, "max_items": 10}`), nil},
		{"missing key", nil, hotconfig.ErrMissing},
		{"malformed JSON", ptr(`{"min_order_cents": 100,`), hotconfig.ErrInvalid},
		{"breaks a rule (max below min)", ptr(`{"min_order_cents": 100, "max_order_cents": 50, "max_items": 10}`), hotconfig.ErrInvalid},
		{"unknown field (a typo)", ptr(`{"min_order_cents": 100, "max_order_cent": 50000, "max_items": 10}`), hotconfig.ErrInvalid},
		// Every rule holds here, so only the unknown field tells that the operator's 20 went nowhere.
		{"unknown field next to a valid value (a typo)", ptr(`{"min_order_cents": 100, "max_order_cents": 50000, "max_items": 10, "max_item": 20}`), hotconfig.ErrInvalid},
		{"trailing data (a second document)", ptr(`{"min_order_cents": 100, "max_order_cents": 50000, "max_items": 10} {"max_items": 0}`), hotconfig.ErrInvalid},
		{"trailing data (a stray brace)", ptr(`{"min_order_cents": 100, "max_order_cents": 50000, "max_items": 10}}`), hotconfig.ErrInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("%sstartup/%d", ce.Prefix, i)
			if tt.value != nil {
				put(t, kv, key, *tt.value)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := hotconfig.Watch(ctx, kv, key, hotconfig.Options{})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "Watch(%s = %v) = %v, want %v: a missing or bad value at start-up must fail the start", key, deref(tt.value), err, tt.wantErr)
				return
			}
			require.NoError(t, err, "Watch(%s = %s)", key, *tt.value)
			require.Equal(t, base, current(t, w), "Watcher.Current() after start")
		})
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "<no key>"
	}
	return *s
}

func TestConfigHotReloadsWithBlockingQueries(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	putLimits(t, kv, key, base)

	w := start(t, consultest.Client(t, rec.Addr).KV(), key, hotconfig.Options{WaitTime: 20 * time.Second})
	require.Equal(t, base, current(t, w))

	quietFrom := time.Now()
	time.Sleep(1500 * time.Millisecond)
	path := "/v1/kv/" + key
	reqs := rec.Requests(path, quietFrom)
	require.LessOrEqual(t, len(reqs), 2, "%d reads of %s in 1.5s while nothing changed; want a blocking query (WaitIndex, long WaitTime), not polling", len(reqs), path)
	all := rec.Requests(path, time.Time{})
	require.NotEmpty(t, all, "no request reached Consul through the client Watch was given")
	for _, r := range all[1:] {
		require.NotZero(t, r.Index(), "a read after the first asked %s?%s; want index=<last X-Consul-Index> (WaitIndex)", r.Path, r.Query.Encode())
	}

	next := hotconfig.Limits{MinOrderCents: 200, MaxOrderCents: 80_000, MaxItems: 20}
	putLimits(t, kv, key, next)
	waitFor(t, w, next, time.Second)
}

// TestConfigZeroOptionsUseDefaults watches with Options{}: the blocking reads must ask for the documented
// default WaitTime, 30s, not leave it to Consul (which would wait 5 minutes), and changes must still arrive.
func TestConfigZeroOptionsUseDefaults(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "defaults"
	putLimits(t, kv, key, base)

	w := start(t, consultest.Client(t, rec.Addr).KV(), key, hotconfig.Options{})
	require.Equal(t, base, current(t, w))
	next := hotconfig.Limits{MinOrderCents: 300, MaxOrderCents: 90_000, MaxItems: 30}
	putLimits(t, kv, key, next)
	waitFor(t, w, next, time.Second)

	all := rec.Requests("/v1/kv/"+key, time.Time{})
	require.GreaterOrEqual(t, len(all), 2, "%d reads of %s; want a first read, then blocking queries", len(all), key)
	for _, r := range all[1:] {
		require.Equal(t, 30*time.Second, r.Wait(), "a blocking read with Options.WaitTime = 0 asked %s?%s; want wait=30s (zero means 30s)", r.Path, r.Query.Encode())
	}
}

func TestConfigRejectsInvalidAndKeepsOld(t *testing.T) {
	ce := infra.Consul(t)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	putLimits(t, kv, key, base)

	// Each rejection comes with the value in force at the moment it was reported.
	type rejection struct {
		err     error
		inForce *hotconfig.Limits
	}
	rejected := make(chan rejection, 16)
	var watcher atomic.Pointer[hotconfig.Watcher]
	w := start(t, kv, key, hotconfig.Options{WaitTime: 20 * time.Second, OnReject: func(err error) {
		r := rejection{err: err}
		if w := watcher.Load(); w != nil {
			r.inForce = w.Current()
		}
		rejected <- r
	}})
	watcher.Store(w)

	tests := []struct {
		name    string
		bad     func(t *testing.T) // makes the key bad
		wantErr error
	}{
		{"malformed JSON", func(t *testing.T) { put(t, kv, key, `{"min_order_cents": 1`) }, hotconfig.ErrInvalid},
		{"fails half-way (a good field, then a wrong type)", func(t *testing.T) {
			put(t, kv, key, `{"min_order_cents": 7, "max_order_cents": "lots", "max_items": 1}`)
		}, hotconfig.ErrInvalid},
		{"breaks a rule (max below min)", func(t *testing.T) {
			put(t, kv, key, `{"min_order_cents": 900, "max_order_cents": 800, "max_items": 5}`)
		}, hotconfig.ErrInvalid},
		{"zero max_items", func(t *testing.T) { put(t, kv, key, `{"min_order_cents": 1, "max_order_cents": 2, "max_items": 0}`) }, hotconfig.ErrInvalid},
		{"trailing data", func(t *testing.T) {
			put(t, kv, key, `{"min_order_cents": 5, "max_order_cents": 6, "max_items": 7} {"max_items": 0}`)
		}, hotconfig.ErrInvalid},
		{"key deleted", func(t *testing.T) {
			_, err := kv.Delete(key, nil)
			require.NoError(t, err)
		}, hotconfig.ErrMissing},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := hotconfig.Limits{MinOrderCents: int64(100 + i), MaxOrderCents: 50_000, MaxItems: 10 + i}
			putLimits(t, kv, key, good)
			waitFor(t, w, good, time.Second)
			drain(rejected)

			tt.bad(t)
			select {
			case r := <-rejected:
				require.ErrorIs(t, r.err, tt.wantErr, "the error OnReject was given")
				require.NotNil(t, r.inForce, "Watcher.Current() = nil while OnReject ran; want the last good value")
				require.Equal(t, good, *r.inForce, "Watcher.Current() while OnReject was told of the rejection; want the last good value: a rejected value must never be in force, not even for a moment")
			case <-time.After(2 * time.Second):
				t.Fatalf("OnReject was not called within 2s of the %s; want every rejected value reported", tt.name)
			}
			require.Equal(t, good, current(t, w), "Watcher.Current() after a rejected value; want the last good one kept")
		})
	}

	// The watch goes on after rejections.
	final := hotconfig.Limits{MinOrderCents: 300, MaxOrderCents: 90_000, MaxItems: 30}
	putLimits(t, kv, key, final)
	waitFor(t, w, final, time.Second)
}

// TestConfigFollowsIndexGoingBackwards lowers the index Consul answers with, with no error in between, as after a
// cluster is rebuilt or restored from a snapshot. Waiting for the old, higher index would hold every later read for a
// whole WaitTime (20s here): the watch must start again from zero when the index goes backwards.
func TestConfigFollowsIndexGoingBackwards(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	rec.SetIndexOffset(1 << 40)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	putLimits(t, kv, key, base)
	w := start(t, consultest.Client(t, rec.Addr).KV(), key, hotconfig.Options{WaitTime: 20 * time.Second})
	rec.WaitBlocking(t, "/v1/kv/"+key, time.Time{}, 2*time.Second) // it waits on the high index

	rec.SetIndexOffset(0) // the next answer carries an index far below the last one
	second := hotconfig.Limits{MinOrderCents: 200, MaxOrderCents: 80_000, MaxItems: 20}
	putLimits(t, kv, key, second)
	waitFor(t, w, second, 2*time.Second)
	third := hotconfig.Limits{MinOrderCents: 300, MaxOrderCents: 90_000, MaxItems: 30}
	putLimits(t, kv, key, third)
	waitFor(t, w, third, 2*time.Second)
}

// TestConfigRejectsOnceAndWaits puts one bad value and watches the reads behind it: the watch must report it once and
// go back to waiting for the next change. A watch that does not move past the rejected value's index reads it again
// at once, in a loop, hammering Consul and flooding OnReject (the logs, the alerts) with one bad value.
func TestConfigRejectsOnceAndWaits(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	putLimits(t, kv, key, base)

	var rejections atomic.Int64
	first := make(chan struct{}, 1)
	w := start(t, consultest.Client(t, rec.Addr).KV(), key, hotconfig.Options{WaitTime: 20 * time.Second, OnReject: func(error) {
		rejections.Add(1)
		select {
		case first <- struct{}{}:
		default:
		}
	}})

	put(t, kv, key, `{"min_order_cents": 900, "max_order_cents": 800, "max_items": 5}`)
	select {
	case <-first:
	case <-time.After(2 * time.Second):
		t.Fatal("OnReject was not called within 2s of an invalid value; want every rejected value reported")
	}
	quietFrom := time.Now()
	time.Sleep(time.Second)
	path := "/v1/kv/" + key
	reads := rec.Requests(path, quietFrom)
	require.LessOrEqual(t, len(reads), 2, "%d reads of %s in the 1s after a rejected value, nothing else changing; want the watch to block for the next change (move the index past a rejected value too)", len(reads), path)
	require.Equal(t, int64(1), rejections.Load(), "OnReject calls for one bad value; want one report per rejected value")
	require.Equal(t, base, current(t, w), "Watcher.Current() after a rejected value; want the last good one kept")
}

func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestConfigSwapIsAtomic reads the limits from several goroutines while they change. A reader must always get
// one whole version, and a value it holds must never change under it. Run with -race.
func TestConfigSwapIsAtomic(t *testing.T) {
	ce := infra.Consul(t)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	versions := []hotconfig.Limits{
		{MinOrderCents: 100, MaxOrderCents: 200, MaxItems: 1},
		{MinOrderCents: 1000, MaxOrderCents: 2000, MaxItems: 2},
	}
	putLimits(t, kv, key, versions[0])
	rejected := make(chan error, 16)
	w := start(t, kv, key, hotconfig.Options{WaitTime: 20 * time.Second, OnReject: func(err error) { rejected <- err }})

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p := w.Current()
				if p == nil {
					continue
				}
				held := *p
				if held != versions[0] && held != versions[1] {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("read %+v, a mix of two versions", held))
					mu.Unlock()
				}
				time.Sleep(100 * time.Microsecond)
				if *p != held {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("a value read as %+v changed to %+v under its reader", held, *p))
					mu.Unlock()
				}
			}
		}()
	}
	for i := 1; i <= 12; i++ {
		v := versions[i%2]
		putLimits(t, kv, key, v)
		waitFor(t, w, v, time.Second)
		// An invalid value in between: readers must never see it, not even for a moment.
		put(t, kv, key, `{"min_order_cents": 5000, "max_order_cents": 1, "max_items": 3}`)
		select {
		case <-rejected:
		case <-time.After(2 * time.Second):
			t.Fatal("OnReject was not called within 2s of an invalid value; want every rejected value reported")
		}
	}
	stop()
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d bad reads while the limits changed, the first: %s; want each reload to swap one whole new value in", len(problems), problems[0])
	}
}

// TestConfigBacksOffWhileConsulDown makes every read fail for a second and counts the reads: the watch must pause
// RetryAfter between failed reads, keep the value in force, and follow changes again once Consul answers.
func TestConfigBacksOffWhileConsulDown(t *testing.T) {
	ce := infra.Consul(t)
	rec := consultest.NewRecorder(t, ce.Addr)
	kv := consultest.Client(t, ce.Addr).KV()
	key := ce.Prefix + "limits"
	putLimits(t, kv, key, base)

	const retryAfter = 100 * time.Millisecond
	w := start(t, consultest.Client(t, rec.Addr).KV(), key, hotconfig.Options{WaitTime: 20 * time.Second, RetryAfter: retryAfter})
	require.Equal(t, base, current(t, w))

	path := "/v1/kv/" + key
	rec.SetDown(true) // the pending blocking read fails, and so does every new one
	downFrom := time.Now()
	time.Sleep(time.Second)
	failed := len(rec.Requests(path, downFrom))
	downFor := time.Since(downFrom)
	// One read per RetryAfter would be 10 in 1s; allow more than twice that, and a first immediate retry.
	limit := int(2*downFor/retryAfter) + 2
	require.LessOrEqual(t, failed, limit, "%d reads of %s in %v while Consul was failing, with RetryAfter = %v; want a pause of RetryAfter after every failed read, not a retry loop that hammers a struggling Consul", failed, path, downFor.Round(time.Millisecond), retryAfter)
	require.Greater(t, failed, 0, "no read of %s while Consul was failing; want the watch to keep asking (after a pause)", path)
	require.Equal(t, base, current(t, w), "Watcher.Current() while Consul was failing; want the value in force kept")

	rec.SetDown(false)
	next := hotconfig.Limits{MinOrderCents: 400, MaxOrderCents: 70_000, MaxItems: 40}
	putLimits(t, kv, key, next)
	waitFor(t, w, next, 2*time.Second)
}
