package canary_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/10-deploy/canary"
	canaryv1 "github.com/gomicrolab/microlab/chapters/10-deploy/gen/canary/v1"
	"github.com/gomicrolab/microlab/infra"
)

// chain is the system: gateway -> orders {v1, v2} -> payments {v1, v2} -> Kafka -> shipping {v1, v2}, each
// shipping consumer in a consumer group of its own version. Every instance notes what it served in log.
type chain struct {
	url      string
	log      *canary.Log
	producer *kgo.Client
	topic    string
}

const weight = 30

// startChain starts the chain; with paymentsCanaryDown the payments canary is deployed but not running.
func startChain(t *testing.T, paymentsCanaryDown bool) *chain {
	t.Helper()
	ep := infra.Kafka(t)
	c := &chain{log: &canary.Log{}, topic: ep.TopicPrefix + "checkout"}
	producer, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	c.producer = producer
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := kadm.NewClient(producer).CreateTopic(ctx, 1, 1, nil, c.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", c.topic, err)
	}

	instance := func(name string, v canary.Version, next canaryv1.HopServiceClient, p *kgo.Client) string {
		return serve(t, &canary.Service{Name: name, Version: v, Log: c.log, Next: next, Producer: p, Topic: c.topic})
	}
	backends := func(stable, canaryAddr string) canaryv1.HopServiceClient {
		return canaryv1.NewHopServiceClient(canary.Backends{Stable: dial(t, stable), Canary: dial(t, canaryAddr)})
	}
	paymentsV2 := deadAddr(t)
	if !paymentsCanaryDown {
		paymentsV2 = instance("payments", canary.Canary, nil, producer)
	}
	payments := backends(instance("payments", canary.Stable, nil, producer), paymentsV2)
	orders := backends(instance("orders", canary.Stable, payments, nil), instance("orders", canary.Canary, payments, nil))
	gw := httptest.NewServer(canary.NewGateway(orders, weight))
	t.Cleanup(gw.Close)
	c.url = gw.URL

	consumerCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	for _, v := range []canary.Version{canary.Stable, canary.Canary} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...), kgo.ConsumeTopics(c.topic),
			kgo.ConsumerGroup(ep.TopicPrefix+"shipping-"+string(v)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = canary.Consume(consumerCtx, cl, v, canary.LogEvents(c.log, "shipping", v))
		}()
		t.Cleanup(func() { stop(); <-done; cl.Close() })
	}
	return c
}

type hop struct {
	Service string         `json:"service"`
	Version canary.Version `json:"version"`
	Tag     canary.Version `json:"tag"`
}

type checkout struct {
	RequestID string         `json:"request_id"`
	Version   canary.Version `json:"version"`
	Hops      []hop          `json:"hops"`
}

// get sends GET /checkout with header and returns the decoded answer.
func (c *chain) get(t *testing.T, id string, header http.Header) checkout {
	t.Helper()
	req, err := http.NewRequestWithContext(callCtx(t), http.MethodGet, c.url+"/checkout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	req.Header.Set(canary.HeaderRequestID, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /checkout %v: %v", header, err)
	}
	defer resp.Body.Close()
	var got checkout
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("GET /checkout %v: decode: %v", header, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /checkout %v = %d %+v, want 200 (the log above says which hop failed)", header, resp.StatusCode, got)
	}
	return got
}

// expect is a request the test sent and the version that must serve it at every hop.
type expect struct {
	id     string
	header http.Header
	want   canary.Version
}

// checkHops checks that every hop of the answer was served by want and received the tag want.
func checkHops(t *testing.T, e expect, got checkout) {
	t.Helper()
	if got.Version != e.want {
		t.Errorf("GET /checkout %v: the gateway chose %q, want %q", e.header, got.Version, e.want)
	}
	services := []string{"orders", "payments"}
	if len(got.Hops) != len(services) {
		t.Fatalf("GET /checkout %v: hops %+v, want orders then payments", e.header, got.Hops)
	}
	for i, h := range got.Hops {
		if h.Service != services[i] || h.Version != e.want || h.Tag != e.want {
			t.Errorf("GET /checkout %v: hop %d is %s %s with tag %q, want %s %s with tag %q: the tag must reach every hop "+
				"(gateway ctx -> client interceptor -> metadata -> server interceptor -> ctx -> next call) and pick "+
				"that hop's instance", e.header, i+1, h.Service, h.Version, h.Tag, services[i], e.want, e.want)
		}
	}
}

// waitBarriers publishes one record per version and waits until each version's consumer processed its own.
// The topic has one partition, so a consumer that processed its barrier has seen every record before it.
func (c *chain) waitBarriers(t *testing.T) {
	t.Helper()
	for _, v := range []canary.Version{canary.Stable, canary.Canary} {
		value, _ := json.Marshal(canary.Event{RequestID: "barrier-" + string(v)})
		rec := &kgo.Record{Topic: c.topic, Value: value, Headers: []kgo.RecordHeader{{Key: canary.RecordHeader, Value: []byte(v)}}}
		if err := c.producer.ProduceSync(callCtx(t), rec).FirstErr(); err != nil {
			t.Fatalf("produce barrier: %v", err)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		seen := map[canary.Version]bool{}
		for _, s := range c.log.All() {
			if s.Service == "shipping" && s.RequestID == "barrier-"+string(s.Version) {
				seen[s.Version] = true
			}
		}
		if seen[canary.Stable] && seen[canary.Canary] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %v the %s consumer processed its record with header %s=%s: %v and the %s consumer its record "+
				"with %s=%s: %v; want both: Accepts and RecordVersion give each record to the consumers of its version",
				wait, canary.Stable, canary.RecordHeader, canary.Stable, seen[canary.Stable],
				canary.Canary, canary.RecordHeader, canary.Canary, seen[canary.Canary])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkServed counts, for each request, which instance of each service served it, from the instances' own
// log, and which consumer processed its event: exactly one each, of the request's version.
func (c *chain) checkServed(t *testing.T, sent []expect) {
	t.Helper()
	c.waitBarriers(t)
	byID := map[string][]canary.Served{}
	for _, s := range c.log.All() {
		byID[s.RequestID] = append(byID[s.RequestID], s)
	}
	counts := map[string]int{}
	for _, e := range sent {
		per := map[string][]canary.Served{}
		for _, s := range byID[e.id] {
			per[s.Service] = append(per[s.Service], s)
			counts[s.Service+" "+string(s.Version)]++
		}
		for _, svc := range []string{"orders", "payments"} {
			if got := per[svc]; len(got) != 1 || got[0].Version != e.want || got[0].Tag != e.want {
				t.Errorf("request %s (%v, want %s): %s served it as %+v, want once by %s with tag %s (the request id travels "+
					"in the outgoing metadata next to the tag: a missing one means the metadata was replaced)",
					e.id, e.header, e.want, svc, got, e.want, e.want)
			}
		}
		if got := per["shipping"]; len(got) != 1 || got[0].Version != e.want || got[0].Tag != e.want {
			t.Errorf("request %s (%v, want %s): its event was processed %d times: %+v, want once, by the %s consumer, "+
				"with header %s=%s: payments sets the header from its ctx, each consumer keeps its own version's records",
				e.id, e.header, e.want, len(got), got, e.want, canary.RecordHeader, e.want)
		}
	}
	t.Logf("served: %v", counts)
}

// TestCanaryEveryHop sends requests pinned by header and requests routed by weight through the whole
// chain, and counts which version served each at every hop, Kafka consumers included.
func TestCanaryEveryHop(t *testing.T) {
	c := startChain(t, false)
	var sent []expect
	send := func(e expect) {
		checkHops(t, e, c.get(t, e.id, e.header))
		sent = append(sent, e)
	}
	for i := range 10 {
		send(expect{fmt.Sprintf("always-%d", i), http.Header{canary.HeaderCanary: {"always"}, canary.HeaderUser: {user(i)}}, canary.Canary})
		send(expect{fmt.Sprintf("never-%d", i), http.Header{canary.HeaderCanary: {"never"}, canary.HeaderUser: {user(i)}}, canary.Stable})
		send(expect{fmt.Sprintf("forged-%d", i), http.Header{canary.HeaderVersion: {"v2"}}, canary.Stable})
	}
	users := map[canary.Version]int{}
	for i := range 150 {
		want := canary.Pick(user(i), weight)
		users[want]++
		for n := range 2 {
			send(expect{fmt.Sprintf("weight-%d-%d", i, n), http.Header{canary.HeaderUser: {user(i)}}, want})
		}
	}
	if users[canary.Canary] == 0 || users[canary.Stable] == 0 {
		t.Fatalf("at weight %d Pick put %d of 150 users on the canary, want some on each version", weight, users[canary.Canary])
	}

	// An event from a producer that takes no part in the canary (no header): stable's, processed once.
	value, _ := json.Marshal(canary.Event{RequestID: "legacy-1"})
	if err := c.producer.ProduceSync(callCtx(t), &kgo.Record{Topic: c.topic, Value: value}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	c.checkServed(t, sent)
	var legacy []canary.Served
	for _, s := range c.log.All() {
		if s.RequestID == "legacy-1" {
			legacy = append(legacy, s)
		}
	}
	if len(legacy) != 1 || legacy[0].Version != canary.Stable {
		t.Errorf("an event without the %s header was processed as %+v, want once by the %s consumer: records from before "+
			"the canary belong to stable", canary.RecordHeader, legacy, canary.Stable)
	}
}

// TestCanaryFallback runs the chain with the payments canary down: a request pinned to the canary is still
// served (orders v2, then payments v1), and from the fallback on it is a stable request, Kafka included.
func TestCanaryFallback(t *testing.T) {
	c := startChain(t, true)
	for i := range 5 {
		h := http.Header{canary.HeaderCanary: {"always"}, canary.HeaderUser: {user(i)}}
		got := c.get(t, fmt.Sprintf("fallback-%d", i), h)
		want := []hop{{"orders", canary.Canary, canary.Canary}, {"payments", canary.Stable, canary.Stable}}
		if fmt.Sprint(got.Hops) != fmt.Sprint(want) {
			t.Fatalf("GET /checkout %v with the payments canary down: hops %+v, want %+v: orders v2 falls back to "+
				"payments v1 and downgrades the request to stable", h, got.Hops, want)
		}
	}
	c.waitBarriers(t)
	processed := 0
	for _, s := range c.log.All() {
		if s.Service != "shipping" || !strings.HasPrefix(s.RequestID, "fallback-") {
			continue
		}
		processed++
		if s.Version != canary.Stable || s.Tag != canary.Stable {
			t.Errorf("event of %s processed by the %s consumer with header %s=%q, want the %s consumer and %s: payments v1 "+
				"served it, so its event is stable's", s.RequestID, s.Version, canary.RecordHeader, s.Tag, canary.Stable, canary.Stable)
		}
	}
	if processed != 5 {
		t.Errorf("the 5 fallback requests' events were processed %d times, want 5 (once each)", processed)
	}
}
