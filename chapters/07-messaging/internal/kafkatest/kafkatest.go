// Package kafkatest is test support for chapter 07: topics with several partitions in the test's own namespace,
// reading a topic back from its start, committed offsets, and a Kafka broker of the test's own that it can kill
// and bring back. It is not part of what you build.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/infra"
)

// Wait bounds every wait for Kafka in the chapter's tests. Records on loopback arrive in milliseconds and a
// consumer group settles in about a second; the bound is generous for a loaded two-core machine.
const Wait = 20 * time.Second

// Topic creates a topic named ep.TopicPrefix+name with the given partitions and returns its name.
func Topic(t testing.TB, ep infra.KafkaEndpoint, name string, partitions int32) string {
	t.Helper()
	topic := ep.TopicPrefix + name
	adm := Admin(t, ep.Brokers)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s with %d partitions: %v", topic, partitions, err)
	}
	return topic
}

// Admin returns an admin client, closed at cleanup.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl := Client(t, brokers)
	return kadm.NewClient(cl)
}

// Client returns a plain client (no group, no topics), closed at cleanup.
func Client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client for %v: %v", brokers, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Produce writes records synchronously and fails the test on any error.
func Produce(t testing.TB, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(rs), err)
	}
}

// ReadAll reads topic from its start until it has n records, or fails after Wait saying how many it got.
// It reads without a group, so it sees exactly what is in the log.
func ReadAll(t testing.TB, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	rs, err := Read(brokers, topic, n, Wait)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return rs
}

// Read is ReadAll without a testing.TB: it returns what it read, and an error when that is fewer than n.
func Read(brokers []string, topic string, n int, wait time.Duration) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("got %d records of %d within %v", len(out), n, wait)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out, nil
}

// Count returns how many records topic holds now (the sum of its partitions' end offsets, on a topic that
// was never truncated).
func Count(t testing.TB, brokers []string, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	ends, err := Admin(t, brokers).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// Committed returns the group's committed offset for topic's partition, or -1 when none is committed.
func Committed(t testing.TB, brokers []string, group, topic string, partition int32) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	offs, err := Admin(t, brokers).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("committed offsets of group %s: %v", group, err)
	}
	o, ok := offs.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return -1
	}
	return o.At
}

// Header returns the value of the record's header key, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Broker is a single-broker Kafka of the test's own, in-process (kfake), that the test can Kill and Start
// again at the same address. It keeps nothing across a restart, as a broker that lost its disk.
type Broker struct {
	Addr   string
	c      *kfake.Cluster
	topics []string
}

// OwnBroker starts a broker on a free loopback port with the given topics (one partition each, created again at
// every Start); it is stopped at cleanup.
func OwnBroker(t testing.TB, topics ...string) *Broker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := &Broker{Addr: addr, topics: topics}
	b.Start(t)
	t.Cleanup(func() {
		if b.c != nil {
			b.c.Close()
		}
	})
	return b
}

// Kill stops the broker: clients see refused connections until Start.
func (b *Broker) Kill(t testing.TB) {
	t.Helper()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// Start starts the broker (again) at its address.
func (b *Broker) Start(t testing.TB) {
	t.Helper()
	_, p, _ := net.SplitHostPort(b.Addr)
	port, _ := strconv.Atoi(p)
	var err error
	for deadline := time.Now().Add(Wait); ; time.Sleep(50 * time.Millisecond) { // the old listener may linger
		b.c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, b.topics...))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start own broker at %s: %v", b.Addr, err)
	}
}

// CaughtUp reports whether group has committed the end of every partition of topic (and topic has records in
// every partition that counts: a partition never committed is not caught up).
func CaughtUp(ctx context.Context, adm *kadm.Client, group, topic string) bool {
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return false
	}
	l, ok := lags[group]
	if !ok || l.Error() != nil {
		return false
	}
	total, parts := int64(0), 0
	for _, ps := range l.Lag[topic] {
		if ps.Err != nil || ps.Commit.At < 0 {
			return false
		}
		total += ps.Lag
		parts++
	}
	return parts > 0 && total == 0
}
