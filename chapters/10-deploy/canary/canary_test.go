package canary_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gomicrolab/microlab/chapters/10-deploy/canary"
	canaryv1 "github.com/gomicrolab/microlab/chapters/10-deploy/gen/canary/v1"
	"github.com/gomicrolab/microlab/infra"
)

// pickEnv makes the test binary a second gateway process: it prints Pick for the users 0..199 at weight 30
// and exits.
const pickEnv = "CANARY_TEST_PRINT_PICKS"

func TestMain(m *testing.M) {
	if os.Getenv(pickEnv) != "" {
		fmt.Print(picks())
		os.Exit(0)
	}
	gin.SetMode(gin.TestMode)
	os.Exit(infra.Main(m))
}

func picks() string {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "%s=%s\n", user(i), canary.Pick(user(i), 30))
	}
	return b.String()
}

// wait bounds every wait for a server or a record: on loopback they take milliseconds; the bound is for a
// loaded two-core machine under -race.
const wait = 20 * time.Second

func user(i int) string { return fmt.Sprintf("user-%d", i) }

// TestCanaryWeightShare counts, over N users, how many Pick sends to the canary. Were the hash a fair coin
// per user, that count would be Binomial(N, w/100): mean N*p, standard deviation sqrt(N*p*(1-p)) (13.4 for
// N=2000 and p=0.1). The bound is the mean ± 6 standard deviations: a fair hash lands outside it with
// probability below 2e-9, while a weight read the wrong way round (10% meaning 90%) or as a fraction of
// another scale is off by dozens of deviations. The ids are fixed, so the result is deterministic for a
// given hash; any common stable hash (FNV-1/1a, CRC-32, SHA-256, MD5) lands well inside the bound.
func TestCanaryWeightShare(t *testing.T) {
	const n = 2000
	for _, w := range []int{0, 10, 30, 50, 100} {
		t.Run(fmt.Sprintf("weight %d", w), func(t *testing.T) {
			p := float64(w) / 100
			mean, sd := n*p, math.Sqrt(n*p*(1-p))
			lo, hi := int(math.Floor(mean-6*sd)), int(math.Ceil(mean+6*sd))
			got := 0
			for i := range n {
				switch v := canary.Pick(user(i), w); v {
				case canary.Canary:
					got++
				case canary.Stable:
				default:
					t.Fatalf("Pick(%q, %d) = %q, want %q or %q", user(i), w, v, canary.Stable, canary.Canary)
				}
			}
			if got < lo || got > hi {
				t.Errorf("Pick at weight %d: %d of %d users on the canary, want %d..%d (%d%% ± 6σ of a binomial): "+
					"weight is the canary's share of users, in percent", w, got, n, lo, hi, w)
			}
		})
	}
}

// probeEngine serves GET /probe behind mw and answers with what the handler behind the middleware sees.
func probeEngine(mw gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.Use(mw)
	r.GET("/probe", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{
			"ctx":    canary.FromContext(c.Request.Context()),
			"header": c.Request.Header.Values(canary.HeaderVersion),
		})
	})
	return r
}

type probeResult struct {
	Ctx    canary.Version   `json:"ctx"`
	Header []canary.Version `json:"header"`
}

func probe(t *testing.T, r http.Handler, header http.Header) probeResult {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/probe", nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /probe %v = %d, want 200: the middleware must let the request through", header, rec.Code)
	}
	var got probeResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode %s: %v", rec.Body.String(), err)
	}
	return got
}

// TestCanaryWeightSticky proves that a user stays on one version: on every request, on every gateway
// replica, and when the weight grows.
func TestCanaryWeightSticky(t *testing.T) {
	const w = 30
	var onCanary, onStable []string
	for i := range 200 {
		if canary.Pick(user(i), w) == canary.Canary {
			onCanary = append(onCanary, user(i))
		} else {
			onStable = append(onStable, user(i))
		}
	}
	if len(onCanary) == 0 || len(onStable) == 0 {
		t.Fatalf("Pick at weight %d put %d of 200 users on the canary and %d on stable, want some on each",
			w, len(onCanary), len(onStable))
	}

	t.Run("every request of a user, on two gateway replicas", func(t *testing.T) {
		replicas := []*gin.Engine{probeEngine(canary.Middleware(w)), probeEngine(canary.Middleware(w))}
		for i := range 200 {
			want := canary.Pick(user(i), w)
			for n := range 10 {
				r := replicas[n%2]
				if got := probe(t, r, http.Header{canary.HeaderUser: {user(i)}}); got.Ctx != want {
					t.Fatalf("request %d of %s (replica %d) at weight %d served by %q, want %q (Pick): "+
						"a user must stick to one version, or they see features come and go and a canary bug "+
						"looks like a stable one", n+1, user(i), n%2+1, w, got.Ctx, want)
				}
			}
		}
	})

	t.Run("concurrent requests each get their own decision", func(t *testing.T) {
		// A gateway serves many requests at once: the decision belongs to one request (its ctx and its header),
		// never to state shared by the middleware's calls. Run under -race, as the lab does.
		r := probeEngine(canary.Middleware(w))
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < 200; i += 8 {
					want := canary.Pick(user(i), w)
					req := httptest.NewRequest(http.MethodGet, "/probe", nil)
					req.Header.Set(canary.HeaderUser, user(i))
					rec := httptest.NewRecorder()
					r.ServeHTTP(rec, req)
					var got probeResult
					if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
						t.Errorf("GET /probe as %s = %d %s, want 200 and JSON", user(i), rec.Code, rec.Body.String())
						return
					}
					if got.Ctx != want || len(got.Header) != 1 || got.Header[0] != want {
						t.Errorf("concurrent requests: %s at weight %d saw FromContext %q and X-Version %q, want %q (Pick): "+
							"keep the decision in the request (a local variable, its ctx, its header), not in a variable "+
							"that all requests share", user(i), w, got.Ctx, got.Header, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	})

	t.Run("the same in another gateway process", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), pickEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run a second process of the test binary: %v", err)
		}
		mine := strings.Split(picks(), "\n")
		for i, line := range strings.Split(string(out), "\n") {
			if i < len(mine) && line != mine[i] {
				t.Fatalf("Pick in this process: %s; in another process: %s: a user must land on the same version on "+
					"every gateway replica and after every restart; use a hash without a per-process seed",
					mine[i], line)
			}
		}
		if string(out) != picks() {
			t.Fatalf("the second process printed %d bytes of picks, want the %d this process computes", len(out), len(picks()))
		}
	})

	t.Run("raising the weight only adds users", func(t *testing.T) {
		for i := range 2000 {
			for _, pair := range [][2]int{{10, 20}, {20, 50}, {50, 90}} {
				if canary.Pick(user(i), pair[0]) == canary.Canary && canary.Pick(user(i), pair[1]) != canary.Canary {
					t.Fatalf("Pick(%q, %d) = %q but Pick(%q, %d) = %q: raising the weight moved a canary user back "+
						"to stable; derive one bucket per user (0..99) that does not depend on the weight",
						user(i), pair[0], canary.Canary, user(i), pair[1], canary.Stable)
				}
			}
		}
	})
}

// TestCanaryGatewayHeader proves the edge's routing rules: the public opt-in header pins a request, the
// internal X-Version header is the gateway's own (a client cannot choose it), and the handlers behind the
// middleware see the decision in the context and in X-Version.
func TestCanaryGatewayHeader(t *testing.T) {
	var stableUser, canaryUser string
	for i := 0; stableUser == "" || canaryUser == ""; i++ {
		if i == 2000 {
			t.Fatalf("Pick at weight 50 put none of 2000 users on one of the versions: the middleware routes users with Pick; make TestCanaryWeightShare pass first")
		}
		if canary.Pick(user(i), 50) == canary.Canary {
			canaryUser = user(i)
		} else {
			stableUser = user(i)
		}
	}
	tests := []struct {
		name   string
		weight int
		header http.Header
		want   canary.Version
		why    string
	}{
		{"X-Canary always pins to the canary", 0, http.Header{canary.HeaderCanary: {"always"}, canary.HeaderUser: {stableUser}},
			canary.Canary, "the opt-in header is how testers reach the canary before any user does"},
		{"X-Canary never pins to stable", 100, http.Header{canary.HeaderCanary: {"never"}, canary.HeaderUser: {canaryUser}},
			canary.Stable, "the opt-out header keeps a request on stable whatever the weight"},
		{"another X-Canary value routes by weight", 50, http.Header{canary.HeaderCanary: {"yes"}, canary.HeaderUser: {canaryUser}},
			canary.Canary, "only always and never pin"},
		{"a user at weight 100", 100, http.Header{canary.HeaderUser: {stableUser}}, canary.Canary, "weight 100 is everybody"},
		{"a user at weight 0", 0, http.Header{canary.HeaderUser: {canaryUser}}, canary.Stable, "weight 0 is nobody"},
		{"a canary user at weight 50", 50, http.Header{canary.HeaderUser: {canaryUser}}, canary.Canary, "Pick decides"},
		{"a stable user at weight 50", 50, http.Header{canary.HeaderUser: {stableUser}}, canary.Stable, "Pick decides"},
		{"an anonymous request", 50, http.Header{}, canary.Stable, "a request without a user cannot stick to a version: stable serves it"},
		{"an anonymous request at weight 100", 100, http.Header{}, canary.Stable,
			"a request without a user cannot stick to a version, whatever the weight: stable serves it (only X-Canary: always sends it to the canary)"},
		{"a forged X-Version from the internet", 0, http.Header{canary.HeaderVersion: {"v2"}, canary.HeaderUser: {canaryUser}},
			canary.Stable, "X-Version is internal: a client that sets it must not choose its version, the gateway decides"},
		{"a forged X-Version of an unknown version", 50, http.Header{canary.HeaderVersion: {"v9", "v2"}, canary.HeaderUser: {stableUser}},
			canary.Stable, "X-Version is internal: the gateway replaces what a client sent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := probe(t, probeEngine(canary.Middleware(tc.weight)), tc.header)
			if got.Ctx != tc.want {
				t.Errorf("Middleware(%d) with %v: FromContext = %q, want %q: %s", tc.weight, tc.header, got.Ctx, tc.want, tc.why)
			}
			if len(got.Header) != 1 || got.Header[0] != tc.want {
				t.Errorf("Middleware(%d) with %v: the handler sees X-Version %q, want exactly [%q]: the gateway sets the "+
					"internal header to its decision and drops what the client sent", tc.weight, tc.header, got.Header, tc.want)
			}
		})
	}
}

// recorder is a HopService that notes the version tag and the metadata each call arrives with.
type recorder struct {
	canaryv1.UnimplementedHopServiceServer
	fail error // returned by every call when set

	mu    sync.Mutex
	calls []call
}

type call struct {
	tag canary.Version
	md  metadata.MD
}

func (r *recorder) Handle(ctx context.Context, _ *canaryv1.HandleRequest) (*canaryv1.HandleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, call{tag: canary.FromContext(ctx), md: md})
	r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	return &canaryv1.HandleResponse{}, nil
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// serve runs svc behind canary.NewGRPCServer on a loopback port and returns the address.
func serve(t *testing.T, svc canaryv1.HopServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := canary.NewGRPCServer(svc)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// deadAddr returns a loopback address of a canary instance that is down: it closes every connection at once,
// so a gRPC client gets codes.Unavailable, as from a crashed pod. It keeps the port for the test, so that no
// other process on the machine can take it meanwhile.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	return lis.Addr().String()
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := canary.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// TestCanaryMetadata proves that the version tag crosses one gRPC hop: the client interceptor puts the
// ctx's tag into the outgoing metadata (next to what is there), the server interceptor puts it back into
// the handler's ctx.
func TestCanaryMetadata(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, rec)
	client := canaryv1.NewHopServiceClient(dial(t, addr))

	t.Run("the client interceptor sends the tag in ctx", func(t *testing.T) {
		for _, v := range []canary.Version{canary.Canary, canary.Stable} {
			before := len(rec.all())
			ctx := metadata.AppendToOutgoingContext(canary.WithVersion(callCtx(t), v), canary.RequestIDKey, "r-1")
			if _, err := client.Handle(ctx, &canaryv1.HandleRequest{}); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			got := rec.all()[before]
			if tags := got.md.Get(canary.MetadataKey); len(tags) != 1 || tags[0] != string(v) {
				t.Errorf("a call from a ctx tagged %q arrived with metadata %s=%q, want exactly [%q]: a ctx value does not "+
					"cross the network, the client interceptor must put the tag into the outgoing metadata",
					v, canary.MetadataKey, tags, v)
			}
			if ids := got.md.Get(canary.RequestIDKey); len(ids) != 1 || ids[0] != "r-1" {
				t.Errorf("a call with outgoing metadata %s=r-1 arrived with %s=%q, want [r-1]: the interceptor must add "+
					"the tag to the outgoing metadata, not replace it (request ids, trace context and tokens travel there too)",
					canary.RequestIDKey, canary.RequestIDKey, ids)
			}
			if got.tag != v {
				t.Errorf("a call tagged %q: the handler's FromContext = %q, want %q: the server interceptor must put the "+
					"incoming tag into the handler's ctx", v, got.tag, v)
			}
		}
	})

	t.Run("a tag already in the outgoing metadata is replaced", func(t *testing.T) {
		// Metadata forwarded from upstream, or a request that a fallback downgraded, may already carry a tag:
		// the ctx's decision must be the only one that arrives (the server reads the first value).
		before := len(rec.all())
		ctx := metadata.AppendToOutgoingContext(canary.WithVersion(callCtx(t), canary.Stable),
			canary.MetadataKey, string(canary.Canary), canary.RequestIDKey, "r-2")
		if _, err := client.Handle(ctx, &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		got := rec.all()[before]
		if tags := got.md.Get(canary.MetadataKey); len(tags) != 1 || tags[0] != string(canary.Stable) {
			t.Errorf("a call from a ctx tagged %q whose outgoing metadata already held %s=%s arrived with %s=%q, want exactly [%q]: "+
				"set the key in a copy of the outgoing metadata; appending keeps the stale tag, and the server reads the first",
				canary.Stable, canary.MetadataKey, canary.Canary, canary.MetadataKey, tags, canary.Stable)
		}
		if ids := got.md.Get(canary.RequestIDKey); len(ids) != 1 || ids[0] != "r-2" {
			t.Errorf("the same call arrived with %s=%q, want [r-2]: replacing the tag must keep every other key", canary.RequestIDKey, ids)
		}
	})

	t.Run("the server interceptor reads the metadata", func(t *testing.T) {
		plain, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		before := len(rec.all())
		ctx := metadata.AppendToOutgoingContext(callCtx(t), canary.MetadataKey, string(canary.Canary))
		if _, err := canaryv1.NewHopServiceClient(plain).Handle(ctx, &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		if got := rec.all()[before].tag; got != canary.Canary {
			t.Errorf("a call with metadata %s=%s: the handler's FromContext = %q, want %q: the server interceptor must "+
				"read the incoming metadata into the ctx, or the next hop gets no tag",
				canary.MetadataKey, canary.Canary, got, canary.Canary)
		}
	})

	t.Run("no tag in ctx sends none", func(t *testing.T) {
		before := len(rec.all())
		if _, err := client.Handle(callCtx(t), &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		got := rec.all()[before]
		if tags := got.md.Get(canary.MetadataKey); len(tags) != 0 || got.tag != "" {
			t.Errorf("a call from a ctx without a tag arrived with %s=%q and FromContext %q, want none", canary.MetadataKey, tags, got.tag)
		}
	})
}

// TestCanaryBackends proves that a call goes to the instance of its version, and falls back to stable only
// when the canary instance cannot be reached.
func TestCanaryBackends(t *testing.T) {
	stable, canaryRec := &recorder{}, &recorder{}
	b := canary.Backends{Stable: dial(t, serve(t, stable)), Canary: dial(t, serve(t, canaryRec))}
	client := canaryv1.NewHopServiceClient(b)

	for _, tc := range []struct {
		tag  canary.Version
		want string
	}{{canary.Canary, "canary"}, {canary.Stable, "stable"}, {"", "stable"}} {
		s0, c0 := len(stable.all()), len(canaryRec.all())
		if _, err := client.Handle(canary.WithVersion(callCtx(t), tc.tag), &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle through Backends, tag %q: %v", tc.tag, err)
		}
		s, c := len(stable.all())-s0, len(canaryRec.all())-c0
		if (tc.want == "canary") != (c == 1) || s+c != 1 {
			t.Errorf("a call tagged %q reached stable %d and canary %d times, want the %s instance once", tc.tag, s, c, tc.want)
		}
	}

	t.Run("no canary deployed", func(t *testing.T) {
		s0 := len(stable.all())
		only := canaryv1.NewHopServiceClient(canary.Backends{Stable: b.Stable})
		if _, err := only.Handle(canary.WithVersion(callCtx(t), canary.Canary), &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle tagged %q with no canary instance: %v, want it served by stable", canary.Canary, err)
		}
		got := stable.all()[s0:]
		if len(got) != 1 {
			t.Fatalf("a canary call with no canary instance reached stable %d times, want 1", len(got))
		}
		if got[0].tag != canary.Canary {
			t.Errorf("a canary call to a service without a canary instance reached its stable instance with tag %q, want %q: "+
				"a release often changes one service only; the tag must travel on through the services that have no "+
				"canary, so that the canary further down the chain still gets its requests (downgrade only on fallback)",
				got[0].tag, canary.Canary)
		}
	})

	t.Run("canary down falls back to stable", func(t *testing.T) {
		s0 := len(stable.all())
		down := canaryv1.NewHopServiceClient(canary.Backends{Stable: b.Stable, Canary: dial(t, deadAddr(t))})
		if _, err := down.Handle(canary.WithVersion(callCtx(t), canary.Canary), &canaryv1.HandleRequest{}); err != nil {
			t.Fatalf("Handle tagged %q with the canary instance down = %v (%s), want it served by stable: a dead canary "+
				"must cost users nothing", canary.Canary, err, status.Code(err))
		}
		got := stable.all()[s0:]
		if len(got) != 1 {
			t.Fatalf("with the canary down, a canary call reached stable %d times, want 1", len(got))
		}
		if got[0].tag != canary.Stable {
			t.Errorf("with the canary down, stable received the fallback call with tag %q, want %q: the request is "+
				"downgraded to stable, so that the hops after it agree with who served it", got[0].tag, canary.Stable)
		}
	})

	t.Run("a canary error is not a reason to retry on stable", func(t *testing.T) {
		failing := &recorder{fail: status.Error(codes.Internal, "boom")}
		s0 := len(stable.all())
		cl := canaryv1.NewHopServiceClient(canary.Backends{Stable: b.Stable, Canary: dial(t, serve(t, failing))})
		_, err := cl.Handle(canary.WithVersion(callCtx(t), canary.Canary), &canaryv1.HandleRequest{})
		if status.Code(err) != codes.Internal {
			t.Errorf("Handle tagged %q, the canary answers Internal: err = %v, want the canary's Internal", canary.Canary, err)
		}
		if n := len(stable.all()) - s0; n != 0 {
			t.Errorf("the canary answered Internal and stable got the call %d more times, want 0: the canary received "+
				"and maybe half did the request; only Unavailable (never reached) is safe to send elsewhere", n)
		}
	})
}

// TestCanaryRecordHeader proves the Kafka side without a broker: the tag goes into one header, the
// consumers read it, and a record without it is stable's.
func TestCanaryRecordHeader(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc-def-01")}, {Key: canary.RecordHeader, Value: []byte("v1")}}}
	canary.SetRecordVersion(canary.WithVersion(context.Background(), canary.Canary), r)
	var tags []string
	for _, h := range r.Headers {
		if h.Key == canary.RecordHeader {
			tags = append(tags, string(h.Value))
		}
	}
	if len(tags) != 1 || tags[0] != string(canary.Canary) || len(r.Headers) != 2 {
		t.Errorf("SetRecordVersion(ctx tagged v2) on a record with %s: v1 gives headers %s, want one %s: v2 next to traceparent "+
			"(a forwarded or retried record must say the version that sends it now, once)",
			canary.RecordHeader, headers(r), canary.RecordHeader)
	}
	fresh := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc-def-01")}}}
	canary.SetRecordVersion(canary.WithVersion(context.Background(), canary.Canary), fresh)
	if canary.RecordVersion(fresh) != canary.Canary || len(fresh.Headers) != 2 {
		t.Errorf("SetRecordVersion(ctx tagged v2) on a record with only traceparent gives headers %s, want traceparent and %s: v2",
			headers(fresh), canary.RecordHeader)
	}
	untouched := &kgo.Record{}
	canary.SetRecordVersion(context.Background(), untouched)
	if len(untouched.Headers) != 0 {
		t.Errorf("SetRecordVersion(ctx without a tag) added headers %v, want none", untouched.Headers)
	}

	for _, tc := range []struct {
		name    string
		headers []kgo.RecordHeader
		want    canary.Version
	}{
		{"tagged v2", []kgo.RecordHeader{{Key: canary.RecordHeader, Value: []byte("v2")}}, canary.Canary},
		{"tagged v1", []kgo.RecordHeader{{Key: canary.RecordHeader, Value: []byte("v1")}}, canary.Stable},
		{"no header (an older producer)", nil, canary.Stable},
		{"tagged with an unknown version", []kgo.RecordHeader{{Key: canary.RecordHeader, Value: []byte("v9")}}, canary.Stable},
		{"other headers only", []kgo.RecordHeader{{Key: "traceparent", Value: []byte("x")}}, canary.Stable},
	} {
		r := &kgo.Record{Headers: tc.headers}
		if got := canary.RecordVersion(r); got != tc.want {
			t.Errorf("RecordVersion(%s) = %q, want %q", tc.name, got, tc.want)
		}
		for _, self := range []canary.Version{canary.Stable, canary.Canary} {
			if got := canary.Accepts(self, r); got != (self == tc.want) {
				t.Errorf("Accepts(%q, %s) = %v, want %v: each record is processed by the consumers of its own version only",
					self, tc.name, got, self == tc.want)
			}
		}
	}
}

func headers(r *kgo.Record) string {
	var b strings.Builder
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "%s: %s; ", h.Key, h.Value)
	}
	return b.String()
}
