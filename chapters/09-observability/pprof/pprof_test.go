package pprof

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// slowSearch is the service's first Search, kept as the oracle: whatever makes Search faster must
// find exactly what this finds, for every query.
func slowSearch(products []Product, query string) []Product {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil
	}
	var out []Product
	for _, p := range products {
		re := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(query) + `\b`)
		if re.MatchString(p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// fixedCatalogue holds the names where a faster search most easily goes wrong: case, word boundaries,
// punctuation, and characters that mean something in a regexp.
var fixedCatalogue = []Product{
	{1, "Green Tea"}, {2, "Steak Knife"}, {3, "Teapot"}, {4, "tea pot, 1.5 l"}, {5, "Rice 105 g"},
	{6, "ICED TEA (1.5 l)"}, {7, "Tea-towel"}, {8, "Earl Grey tea"}, {9, "c-3po figure"}, {10, "Oolong"},
	{11, "Tea"}, {12, "tea"}, {13, "Matcha tea+milk"}, {14, "Grey Tea Pot"}, {15, "1x5 cable"},
}

// catalogue returns n generated products, about one in seven with the word "tea" in its name.
func catalogue(n int) []Product {
	adjectives := []string{"Green", "Black", "Iced", "Organic", "Smoky", "Earl Grey", "Jasmine"}
	nouns := []string{"Tea", "Teapot", "Coffee", "Steak", "Tea Cup", "Mug", "Kettle", "Tea-towel", "Biscuit"}
	out := make([]Product, n)
	for i := range out {
		out[i] = Product{ID: i + 1, Name: fmt.Sprintf("%s %s %d g", adjectives[i%len(adjectives)], nouns[i%len(nouns)], 50+i%400)}
	}
	return out
}

func TestPprofSearchResultsUnchanged(t *testing.T) {
	queries := []string{
		"tea", "TEA", "Tea", "  tea ", "pot", "teapot", "tea pot", "grey tea", "steak", "knife",
		"1.5", "105", "1x5", "c-3po", "figure", "towel", "milk", "o", "zzz", "", "   ",
		"green", "iced", "kettle", "tea cup", "50", "449",
	}
	catalogues := map[string][]Product{"fixed": fixedCatalogue, "generated": catalogue(250)}
	// Every query runs in several goroutines at once, as requests do in the service: a speed-up that
	// shares state between searches must be safe for that (the exercise runs under -race).
	const callers = 4
	for name, cat := range catalogues {
		type call struct {
			query string
			got   []Product
		}
		calls := make(chan call, len(queries)*callers)
		var wg sync.WaitGroup
		for _, q := range queries {
			for range callers {
				wg.Go(func() { calls <- call{q, Search(cat, q)} })
			}
		}
		wg.Wait()
		close(calls)
		wants := map[string][]Product{}
		for _, q := range queries {
			wants[q] = slowSearch(cat, q)
		}
		for c := range calls {
			want := wants[c.query]
			require.Equal(t, want, c.got,
				"Search(%s catalogue, %q) = %v, want %v: a faster search must find exactly what the slow one found (whole words, any case, the query taken literally, catalogue order)",
				name, c.query, c.got, want)
		}
	}
}

// maxAllocsPerProduct bounds what Search may allocate for each product it looks at. Allocations are
// counted, not timed, so the check is exact on a loaded machine: testing.AllocsPerRun counts every
// allocation whatever the scheduler does. Compiling a regexp allocates about twenty objects (the
// parsed syntax tree, the program, its instructions); matching a compiled one allocates nothing, and
// appending a match costs a fraction of one allocation (the slice doubles). Two per product leaves
// room for a different but reasonable algorithm and still rejects a compile per product by far.
const maxAllocsPerProduct = 2.0

func TestPprofSearchAllocationsDoNotGrowPerProduct(t *testing.T) {
	const small, large = 500, 2000
	cat := catalogue(large)
	allocs := func(ps []Product) float64 {
		return testing.AllocsPerRun(3, func() { _ = Search(ps, "tea") })
	}
	// The same query over 500 and over 2000 products: what is paid once per search cancels out, and
	// what is left is the cost of each additional product.
	a, b := allocs(cat[:small]), allocs(cat)
	perProduct := (b - a) / (large - small)
	slow := testing.AllocsPerRun(1, func() { _ = slowSearch(cat[:small], "tea") }) / small
	require.Less(t, perProduct, maxAllocsPerProduct,
		"Search allocates %.1f objects per product (%.0f for %d products, %.0f for %d), want fewer than %.0f (the slow version allocates %.1f): this is the hot spot that BenchmarkSearch and `go tool pprof -list Search` point at; do once per search what does not depend on the product",
		perProduct, a, small, b, large, maxAllocsPerProduct, slow)
}

// distinctQueries is how many different queries TestPprofSearchMemoryStaysFlat sends: users (and
// bots) send an endless variety, so anything kept per query must have a bound.
const distinctQueries = 10_000

// maxHeapGrowth is what those queries may leave on the heap: about 5 000 compiled patterns (a
// compiled `(?i)\bword\b` takes about 1.1 KB). Without a cache the growth is about zero, since the
// heap is measured after two garbage collections (the second one also empties the sync.Pools).
const maxHeapGrowth = 6 << 20

// heapAfterGC returns the bytes of live heap objects once garbage has been collected.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func TestPprofSearchMemoryStaysFlat(t *testing.T) {
	queries := make([]string, distinctQueries)
	for i := range queries {
		queries[i] = fmt.Sprintf("sku%d", i)
	}
	before := heapAfterGC()
	for _, q := range queries {
		_ = Search(fixedCatalogue, q)
	}
	growth := heapAfterGC() - before
	runtime.KeepAlive(queries)
	require.Less(t, growth, int64(maxHeapGrowth),
		"after %d searches with distinct queries the live heap grew by %.1f MB, want less than %d MB: something keeps state per query without a bound, a memory leak that any client can drive with random queries (the heap profile, -sample_index=inuse_space, shows where it is kept)",
		distinctQueries, float64(growth)/(1<<20), maxHeapGrowth>>20)
}

// BenchmarkSearch measures Search over 10 000 products. Profile it with
//
//	go test -run '^$' -bench 'Search$' -cpuprofile cpu.out ./09-observability/pprof
//	go tool pprof -top -cum cpu.out
func BenchmarkSearch(b *testing.B) {
	cat := catalogue(10_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = Search(cat, "tea")
	}
}

// BenchmarkSearchSlowVersion measures the service's first version side by side, for comparison.
func BenchmarkSearchSlowVersion(b *testing.B) {
	cat := catalogue(10_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = slowSearch(cat, "tea")
	}
}

// gate makes shards that answer only when the test opens the gate: long after the handler that asked
// them stopped listening, as a slow replica does.
type gate struct {
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) shard(products []Product) Shard {
	return ShardFunc(func(ctx context.Context) ([]Product, error) {
		<-g.release
		return products, nil
	})
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func instant(products []Product) Shard {
	return ShardFunc(func(ctx context.Context) ([]Product, error) { return products, nil })
}

var errShardDown = errors.New("shard down")

func failing() Shard {
	return ShardFunc(func(ctx context.Context) ([]Product, error) { return nil, errShardDown })
}

// returnsWithin is far more than any handler here needs to answer once its context ended (they take
// microseconds); it only turns a handler that does not return into a failure with a reason.
const returnsWithin = 10 * time.Second

// leakDeadline is how long the goroutines a test started get to exit once nothing blocks them. A
// goroutine that can finish does so in microseconds; one still there after 10 s is blocked for good.
const leakDeadline = 10 * time.Second

// serve runs req through h and waits until ServeHTTP returns, after calling whileServing (which
// may cancel the caller). It fails the test if ServeHTTP is still running after returnsWithin.
func serve(t *testing.T, h http.Handler, req *http.Request, whileServing func(), why string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(rec, req)
	}()
	whileServing()
	select {
	case <-done:
	case <-time.After(returnsWithin):
		t.Fatalf("GET %s has not returned %v after %s, while its shards are still busy: the handler must answer as soon as its context ends, not wait for slow shards",
			req.URL, returnsWithin, why)
	}
	return rec
}

// requireBaseline retries goleak until the goroutines are back to baseline or leakDeadline passed.
func requireBaseline(t *testing.T, baseline goleak.Option, what string) {
	t.Helper()
	deadline := time.Now().Add(leakDeadline)
	for {
		err := goleak.Find(baseline)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			msg := err.Error()
			leaked := strings.Count(msg, "Goroutine ")
			if len(msg) > 1200 {
				msg = msg[:1200] + " ..."
			}
			t.Fatalf("%d goroutines are not back to baseline %v after %s and every shard answered: each abandoned request leaves goroutines behind, and the service runs out of memory by the thousand (where they are parked, as /debug/pprof/goroutine?debug=2 would show it):\n%s",
				leaked, leakDeadline, what, msg)
		}
	}
}

// interleave deals products to n shards by id, as a hash partition does: every shard holds ids all
// over the range, so matches appended shard by shard are out of id order whichever shard answers first.
func interleave(products []Product, n int) [][]Product {
	parts := make([][]Product, n)
	for i, p := range products {
		parts[i%n] = append(parts[i%n], p)
	}
	return parts
}

func TestPprofHandlerMergesShards(t *testing.T) {
	cat := catalogue(300)
	want := slowSearch(cat, "tea") // catalogue order is id order
	parts := interleave(cat, 2)
	h := NewServer(time.Minute, instant(parts[0]), instant(parts[1])).Handler()

	rec := serve(t, h, httptest.NewRequest(http.MethodGet, "/search?q=tea", nil), func() {}, "both shards answered")
	require.Equal(t, http.StatusOK, rec.Code, "GET /search?q=tea = %d, want 200: %s", rec.Code, rec.Body)
	var got Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "GET /search?q=tea: body %q is not a Response", rec.Body)
	require.Equal(t, want, got.Products, "GET /search?q=tea found %v, want the matches of both shards ordered by id %v: the answer must not depend on which shard was faster", got.Products, want)

	rec = serve(t, h, httptest.NewRequest(http.MethodGet, "/search", nil), func() {}, "a request without q")
	require.Equal(t, http.StatusBadRequest, rec.Code, "GET /search without q = %d, want 400", rec.Code)
}

// shardsAnswering is how many shards TestPprofHandlerKeepsEveryAnswer releases at the same moment:
// their answers arrive together, while the handler is still busy with the first one.
const shardsAnswering = 8

func TestPprofHandlerKeepsEveryAnswer(t *testing.T) {
	cat := catalogue(400)
	want := slowSearch(cat, "tea")
	const requests = 20
	for i := range requests {
		// Shards that answer all at once, once every one of them was asked: the handler is waiting
		// for them and must keep every answer, however close together they arrive.
		g := newGate()
		var asked sync.WaitGroup
		asked.Add(shardsAnswering)
		shards := make([]Shard, shardsAnswering)
		for j, part := range interleave(cat, shardsAnswering) {
			inner := g.shard(part)
			shards[j] = ShardFunc(func(ctx context.Context) ([]Product, error) {
				asked.Done()
				return inner.Products(ctx)
			})
		}
		// The budget is a minute: a search whose shards all answered never needs it.
		h := NewServer(time.Minute, shards...).Handler()
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/search?q=tea", nil))
		}()
		asked.Wait()
		g.open()
		select {
		case <-done:
		case <-time.After(returnsWithin):
			t.Fatalf("GET /search?q=tea (request %d) has not answered %v after all %d shards answered at once: the handler lost an answer (a shard's result that was not delivered because the handler was busy receiving another one) and now waits for its one-minute budget; every answer must reach the handler, or the search fails under load",
				i+1, returnsWithin, shardsAnswering)
		}
		require.Equal(t, http.StatusOK, rec.Code, "GET /search?q=tea with %d shards that all answered = %d, want 200: %s", shardsAnswering, rec.Code, rec.Body)
		var got Response
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "GET /search?q=tea: body %q is not a Response", rec.Body)
		require.Equal(t, want, got.Products, "GET /search?q=tea with %d shards found %v, want the matches of every shard ordered by id %v", shardsAnswering, got.Products, want)
	}
}

func TestPprofNoLeakWhenCallerLeaves(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	g := newGate()
	defer g.open()
	cat := catalogue(100)
	// The search budget is a minute: here only the callers give up (a client timeout, a closed connection).
	h := NewServer(time.Minute, g.shard(cat[:50]), g.shard(cat[50:])).Handler()

	const requests = 50
	for range requests {
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/search?q=tea", nil)
		serve(t, h, req, cancel, "its caller left")
		cancel()
	}
	g.open() // the shards answer now, after every caller left
	requireBaseline(t, baseline, fmt.Sprintf("%d requests whose callers left", requests))
}

func TestPprofNoLeakOnTimeout(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	g := newGate()
	defer g.open()
	cat := catalogue(99)
	// A 10 ms budget and shards that answer only when the gate opens: every search times out. Three
	// shards, not two: NewServer takes any number, and a catalogue grows by adding shards.
	h := NewServer(10*time.Millisecond, g.shard(cat[:33]), g.shard(cat[33:66]), g.shard(cat[66:])).Handler()

	const requests = 20
	for range requests {
		rec := serve(t, h, httptest.NewRequest(http.MethodGet, "/search?q=tea", nil), func() {}, "its 10ms search budget ran out")
		require.Equal(t, http.StatusGatewayTimeout, rec.Code, "GET /search?q=tea with shards slower than the budget = %d, want 504", rec.Code)
	}
	g.open()
	requireBaseline(t, baseline, fmt.Sprintf("%d searches that timed out", requests))
}

func TestPprofNoLeakOnShardError(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	g := newGate()
	defer g.open()
	h := NewServer(time.Minute, failing(), g.shard(catalogue(50))).Handler()

	const requests = 20
	for range requests {
		rec := serve(t, h, httptest.NewRequest(http.MethodGet, "/search?q=tea", nil), func() {}, "one shard failed")
		require.Equal(t, http.StatusBadGateway, rec.Code, "GET /search?q=tea with a failing shard = %d, want 502", rec.Code)
	}
	g.open()
	requireBaseline(t, baseline, fmt.Sprintf("%d searches that failed early on a shard error", requests))
}

func TestPprofPublicHandlerHidesProfiles(t *testing.T) {
	h := NewServer(time.Second, instant(fixedCatalogue)).Handler()
	// Not /debug/pprof/profile or /trace here: on a handler that serves them, they would run for 30 s (below).
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=2", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
		rec := serve(t, h, httptest.NewRequest(http.MethodGet, path, nil), func() {}, "a profile request")
		require.Equal(t, http.StatusNotFound, rec.Code,
			"GET %s on the public handler = %d, want 404: profiles show the command line, every goroutine's stack and the heap, and a CPU profile or trace makes the process work for whoever asks; serve them only from DebugHandler, on a loopback-only port",
			path, rec.Code)
	}
	// The CPU profile and the trace run for as long as the request asks (30 s by default), so they
	// are asked with a caller that has already left: served, they stop at once and answer 200.
	left, cancel := context.WithCancel(context.Background())
	cancel()
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace"} {
		rec := serve(t, h, httptest.NewRequestWithContext(left, http.MethodGet, path, nil), func() {}, "a profile request whose caller left")
		require.Equal(t, http.StatusNotFound, rec.Code,
			"GET %s on the public handler = %d, want 404: anyone could make the process profile or trace itself for as long as they ask (?seconds=3600), a denial-of-service lever; serve it only from DebugHandler, on a loopback-only port",
			path, rec.Code)
	}
}

func TestPprofDebugHandlerServesProfiles(t *testing.T) {
	h := DebugHandler()
	cases := []struct {
		path string
		want string // in the body
	}{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/goroutine?debug=2", "goroutine "},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile:"},
		{"/debug/pprof/heap?debug=1", "heap profile:"},
		{"/debug/pprof/cmdline", os.Args[0]}, // the test binary's own command line
		{"/debug/pprof/symbol", "num_symbols"},
		{"/debug/pprof/profile?seconds=1", ""},
		{"/debug/pprof/trace?seconds=0.2", ""},
	}
	for _, c := range cases {
		rec := serve(t, h, httptest.NewRequest(http.MethodGet, c.path, nil), func() {}, "a profile request")
		if rec.Code == http.StatusInternalServerError && strings.Contains(rec.Body.String(), "already") {
			continue // served, but `go test -cpuprofile` or `-trace` is profiling this very process
		}
		require.Equal(t, http.StatusOK, rec.Code, "GET %s on DebugHandler = %d, want 200: the debug port serves every pprof handler (index, cmdline, profile, symbol, trace): %s",
			c.path, rec.Code, rec.Body)
		require.NotZero(t, rec.Body.Len(), "GET %s on DebugHandler answered an empty body, want the profile", c.path)
		require.Contains(t, rec.Body.String(), c.want, "GET %s on DebugHandler: body does not contain %q", c.path, c.want)
	}
}

func TestPprofDebugAddressMustBeLoopback(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6060", true},
		{"127.0.0.2:6060", true}, // all of 127.0.0.0/8 is loopback
		{"[::1]:6060", true},
		{"localhost:6060", true},
		{":6060", false},        // no host: every interface
		{"0.0.0.0:6060", false}, // every IPv4 interface
		{"[::]:6060", false},    // every interface
		{"10.0.0.5:6060", false},
		{"192.168.1.20:6060", false},
		{"127.0.0.1.nip.io:6060", false}, // a name that only looks local
		{"search-0.internal:6060", false},
		{"127.0.0.1", false}, // no port
	}
	for _, c := range cases {
		err := RequireLoopback(c.addr)
		if c.ok {
			require.NoError(t, err, "RequireLoopback(%q) = %v, want nil: a loopback address is where the profiles belong", c.addr, err)
		} else {
			require.Error(t, err, "RequireLoopback(%q) = nil, want an error: the profiles would be reachable from other machines (command line, stacks, heap, and CPU profiles on demand)", c.addr)
		}
	}
}
