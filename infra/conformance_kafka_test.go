package infra

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var kafkaCases = []conformanceCase{
	{"order_by_key", kafkaOrderByKey},
	{"group_rebalance", kafkaGroupRebalance},
	{"committed_offset_survives_restart", kafkaCommittedOffset},
	{"read_committed_transactions", kafkaReadCommitted},
}

// kafkaTopic creates a topic with the given partitions in a fresh namespace and returns its name and seeds.
func kafkaTopic(t *testing.T, inst *Instance, partitions int32) (string, []string) {
	t.Helper()
	ep := kafkaNamespace(t, inst)
	topic := ep.TopicPrefix + "events"
	c := kafkaClient(t, ep.Brokers)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, c)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	return topic, ep.Brokers
}

func kafkaClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func produce(t *testing.T, c *kgo.Client, records ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consume polls c until it has n records or 15 s pass.
func consume(t *testing.T, c *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, want %d: %v", len(got), n, ctx.Err())
		}
		if err := fs.Err(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

func kafkaOrderByKey(t *testing.T, inst *Instance) {
	topic, brokers := kafkaTopic(t, inst, 3)
	producer := kafkaClient(t, brokers, kgo.DefaultProduceTopic(topic))
	keys := []string{"order-a", "order-b", "order-c", "order-d"}
	const perKey = 10
	var records []*kgo.Record
	for i := range perKey {
		for _, k := range keys {
			records = append(records, &kgo.Record{Key: []byte(k), Value: []byte(strconv.Itoa(i))})
		}
	}
	produce(t, producer, records...)
	consumer := kafkaClient(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consume(t, consumer, len(records))
	seqs := map[string][]int{}
	partitions := map[string]int32{}
	for _, r := range got {
		k := string(r.Key)
		if p, seen := partitions[k]; seen && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d, want one partition per key", k, p, r.Partition)
		}
		partitions[k] = r.Partition
		n, _ := strconv.Atoi(string(r.Value))
		seqs[k] = append(seqs[k], n)
	}
	for _, k := range keys {
		if !slices.IsSorted(seqs[k]) || len(seqs[k]) != perKey {
			t.Errorf("values of key %s in consume order = %v, want 0..%d in order", k, seqs[k], perKey-1)
		}
	}
}

// assignments tracks which partitions each group member owns, from the client's rebalance callbacks.
type assignments struct {
	mu    sync.Mutex
	owned map[string]map[int32]bool
}

func (a *assignments) opts(member string) []kgo.Opt {
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					a.owned[member][p] = true
				}
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					delete(a.owned[member], p)
				}
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					delete(a.owned[member], p)
				}
			}
		}),
	}
}

func (a *assignments) want(counts map[string]int) func() error {
	return func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		for m, n := range counts {
			if len(a.owned[m]) != n {
				return fmt.Errorf("partitions owned: %v, want counts %v", a.owned, counts)
			}
		}
		return nil
	}
}

// pollInBackground keeps a group member polling, as a real consumer would, until the test ends.
func pollInBackground(t *testing.T, c *kgo.Client) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c.PollFetches(ctx)
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func kafkaGroupRebalance(t *testing.T, inst *Instance) {
	topic, brokers := kafkaTopic(t, inst, 2)
	group := topic + "-group"
	a := &assignments{owned: map[string]map[int32]bool{"first": {}, "second": {}}}
	member := func(name string) *kgo.Client {
		opts := append(a.opts(name), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.HeartbeatInterval(300*time.Millisecond))
		c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
		if err != nil {
			t.Fatalf("kgo.NewClient: %v", err)
		}
		return c
	}
	first := member("first")
	t.Cleanup(first.Close)
	pollInBackground(t, first)
	eventually(t, 20*time.Second, "a lone member owns both partitions", a.want(map[string]int{"first": 2}))

	second := member("second")
	stopSecond := pollInBackground(t, second)
	eventually(t, 20*time.Second, "a second member takes one partition", a.want(map[string]int{"first": 1, "second": 1}))

	stopSecond()
	second.Close() // leaves the group
	eventually(t, 20*time.Second, "after the second member leaves, the first owns both again", a.want(map[string]int{"first": 2}))
}

func kafkaCommittedOffset(t *testing.T, inst *Instance) {
	topic, brokers := kafkaTopic(t, inst, 1)
	group := topic + "-group"
	producer := kafkaClient(t, brokers, kgo.DefaultProduceTopic(topic))
	var records []*kgo.Record
	for i := range 10 {
		records = append(records, &kgo.Record{Value: []byte(strconv.Itoa(i))})
	}
	produce(t, producer, records...)

	consumer := func() *kgo.Client {
		c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatalf("kgo.NewClient: %v", err)
		}
		return c
	}
	first := consumer()
	got := consume(t, first, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := first.CommitRecords(ctx, got[4]); err != nil { // commits offset 5: records 0..4 are done
		t.Fatalf("commit: %v", err)
	}
	first.Close()

	second := consumer()
	t.Cleanup(second.Close)
	again := consume(t, second, 1)
	if again[0].Offset != 5 {
		t.Errorf("first offset after a restart = %d, want 5 (the committed offset)", again[0].Offset)
	}
}

func kafkaReadCommitted(t *testing.T, inst *Instance) {
	topic, brokers := kafkaTopic(t, inst, 1)
	producer := kafkaClient(t, brokers, kgo.DefaultProduceTopic(topic), kgo.TransactionalID(topic+"-tx"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inTransaction := func(value string, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		produce(t, producer, &kgo.Record{Value: []byte(value)})
		if err := producer.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
	inTransaction("aborted", kgo.TryAbort)
	inTransaction("committed", kgo.TryCommit)
	plain := kafkaClient(t, brokers, kgo.DefaultProduceTopic(topic))
	produce(t, plain, &kgo.Record{Value: []byte("after")})

	consumer := kafkaClient(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var values []string
	for _, r := range consume(t, consumer, 2) {
		values = append(values, string(r.Value))
	}
	if want := []string{"committed", "after"}; !slices.Equal(values, want) {
		t.Errorf("read_committed consumer read %v, want %v", values, want)
	}
}
