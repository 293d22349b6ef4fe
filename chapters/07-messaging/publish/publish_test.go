package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/07-messaging/internal/kafkatest"
	"github.com/gomicrolab/microlab/chapters/07-messaging/publish"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

const (
	partitions = 6
	orders     = 25 // not a multiple of partitions, so that no fixed rotation maps an order to one partition by chance
	steps      = 8
)

var types = []string{"created", "reserved", "paid", "packed", "shipped", "delivered", "reviewed", "archived"}

// interleaved returns every order's events, one step of every order at a time: o1#1 o2#1 ... o1#2 o2#2 ...
func interleaved() []publish.OrderEvent {
	var evs []publish.OrderEvent
	for s := 1; s <= steps; s++ {
		for o := 1; o <= orders; o++ {
			evs = append(evs, publish.OrderEvent{OrderID: fmt.Sprintf("order-%03d", o), Seq: s, Type: types[s-1]})
		}
	}
	return evs
}

func TestPublishKeepsEachOrdersEventsInOrder(t *testing.T) {
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders", partitions)
	cl, err := publish.NewProducer(ep.Brokers, topic)
	require.NoError(t, err)
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	evs := interleaved()
	// Several calls, as a service publishes as orders change: one step of every order per call.
	for i := 0; i < len(evs); i += orders {
		require.NoError(t, publish.Publish(ctx, cl, evs[i:i+orders]...), "Publish(step %d)", i/orders+1)
	}
	// Publish returns after the broker acknowledged: the records are in the log now, not in a buffer.
	require.EqualValues(t, len(evs), kafkatest.Count(t, ep.Brokers, topic),
		"records in the topic right after Publish returned: Publish must wait for the broker's acknowledgement")

	checkPerOrderOrder(t, kafkatest.ReadAll(t, ep.Brokers, topic, len(evs)), topic)
}

func TestPublishKeepsOrderWithinOneCall(t *testing.T) {
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "orders-batch", partitions)
	cl, err := publish.NewProducer(ep.Brokers, topic)
	require.NoError(t, err)
	defer cl.Close()

	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	// One call with every order's full history, interleaved, as a batch job or a replay publishes them: the
	// events of one order sit far apart in the call and must still reach the partition in the order given.
	evs := interleaved()
	require.NoError(t, publish.Publish(ctx, cl, evs...), "Publish(%d events in one call)", len(evs))
	require.EqualValues(t, len(evs), kafkatest.Count(t, ep.Brokers, topic),
		"records in the topic right after Publish returned: Publish must wait for the broker's acknowledgement")
	checkPerOrderOrder(t, kafkatest.ReadAll(t, ep.Brokers, topic, len(evs)), topic)
}

// checkPerOrderOrder checks what a consumer of topic sees: each record keyed by its order id, on the partition
// Kafka's default (murmur2, Java-compatible) partitioner picks for that key, each order's events in Seq order,
// and the orders spread over more than one partition.
func checkPerOrderOrder(t *testing.T, got []*kgo.Record, topic string) {
	t.Helper()
	// The partitioner every Kafka client agrees on by default: murmur2 of the key, as Java's client computes it.
	// A producer in another language (or a default franz-go one) must put the same order on the same partition.
	kafkaDefault := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	partitionOf := map[string]int32{}
	lastSeq := map[string]int{}
	used := map[int32]bool{}
	for _, r := range got {
		var ev publish.OrderEvent
		require.NoError(t, json.Unmarshal(r.Value, &ev), "record value %q is not an OrderEvent in JSON", r.Value)
		require.Equal(t, ev.OrderID, string(r.Key),
			"record key of %s#%d = %q, want the order id: the key picks the partition, and only records with the same key are kept in order", ev.OrderID, ev.Seq, r.Key)
		if p, ok := partitionOf[ev.OrderID]; ok {
			require.Equal(t, p, r.Partition,
				"%s#%d landed on partition %d, its earlier events on %d: one order's events must share a partition (hash the key; no round-robin)", ev.OrderID, ev.Seq, r.Partition, p)
		}
		if want := kafkaDefault.Partition(r, partitions); int(r.Partition) != want {
			t.Fatalf("%s#%d landed on partition %d, want %d: Kafka's default partitioner (murmur2 of the key, as in Java's client) puts this key there; "+
				"another hash splits an order over two partitions as soon as a second producer (Java, or default franz-go) writes the same order",
				ev.OrderID, ev.Seq, r.Partition, want)
		}
		partitionOf[ev.OrderID] = r.Partition
		used[r.Partition] = true
		require.Equal(t, lastSeq[ev.OrderID]+1, ev.Seq,
			"%s: event #%d read right after #%d: a consumer must see one order's events in the order they happened", ev.OrderID, ev.Seq, lastSeq[ev.OrderID])
		lastSeq[ev.OrderID] = ev.Seq
	}
	for o := 1; o <= orders; o++ {
		require.Equal(t, steps, lastSeq[fmt.Sprintf("order-%03d", o)], "events read for order-%03d", o)
	}
	require.Greater(t, len(used), 1,
		"%d orders all landed on one of %d partitions: orders must spread over the partitions, or one consumer does all the work", orders, partitions)
}

func TestPublishReportsFailure(t *testing.T) {
	// A broker address where nobody listens: every produce fails. Publish must say so, or the caller believes
	// the event is on its way and it is lost (消息丢失 at the producer).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	ln.Close()

	cl, err := publish.NewProducer([]string{dead}, "lab-nowhere")
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err = publish.Publish(ctx, cl, publish.OrderEvent{OrderID: "order-1", Seq: 1, Type: "created"})
	require.Error(t, err, "Publish to an unreachable broker = nil error after %v, want an error: an async produce whose result nobody checks loses the event silently", time.Since(start).Round(time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded, "Publish's error should wrap the reason the record failed (%%w)")
}

func TestPublishReportsAFailureOfAnyEvent(t *testing.T) {
	ep := infra.Kafka(t)
	// A topic that takes messages of at most 200 kB (max.message.bytes, checked by the broker after compression).
	topic := ep.TopicPrefix + "small-messages"
	maxBytes := "200000"
	ctx, cancel := context.WithTimeout(context.Background(), kafkatest.Wait)
	defer cancel()
	resp, err := kafkatest.Admin(t, ep.Brokers).CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &maxBytes}, topic)
	if err == nil {
		err = resp.Err
	}
	require.NoError(t, err, "create topic %s", topic)
	cl, err := publish.NewProducer(ep.Brokers, topic)
	require.NoError(t, err)
	defer cl.Close()

	// The first event is small: the broker takes it. The second is just under the client's own limit for a batch
	// (1,000,012 bytes), so the client accepts it but cannot put it in the first event's batch; the broker takes
	// the first batch, then refuses the second (text that does not compress, over 200 kB). Publish must report
	// the failure of any event, not only of the first one to complete.
	good := publish.OrderEvent{OrderID: "order-1", Seq: 1, Type: "created"}
	rnd := rand.New(rand.NewPCG(1, 2))
	var big strings.Builder
	for range 999_850 {
		big.WriteByte(byte('a' + rnd.IntN(26)))
	}
	huge := publish.OrderEvent{OrderID: "order-1", Seq: 2, Type: big.String()}
	err = publish.Publish(ctx, cl, good, huge)
	require.Error(t, err, "Publish(small event, 1 MB event the topic refuses) = nil error, want an error: the second event was never written, and the caller believes it was")
	require.ErrorIs(t, err, kerr.MessageTooLarge, "Publish's error should wrap the reason the record failed (%%w)")
}

func TestPublishNothingIsNoError(t *testing.T) {
	ep := infra.Kafka(t)
	topic := kafkatest.Topic(t, ep, "empty", 1)
	cl, err := publish.NewProducer(ep.Brokers, topic)
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, publish.Publish(context.Background(), cl), "Publish() with no events")
	require.Zero(t, kafkatest.Count(t, ep.Brokers, topic))
}
