// Package publish writes order events to Kafka so that the events of one order are consumed in the order they
// happened (顺序消费), while different orders spread over the topic's partitions and are consumed in parallel.
package publish

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// OrderEvent is one step in an order's life. Seq numbers the events of one order from 1.
type OrderEvent struct {
	OrderID string `json:"order_id"`
	Seq     int    `json:"seq"`
	Type    string `json:"type"` // created, paid, shipped, ...
}

// NewProducer returns a client that publishes to topic. Close it when done.
func NewProducer(brokers []string, topic string) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		// franz-go's defaults are already the safe ones: acks=all and the idempotent producer, which keeps a
		// partition's order even when a batch is retried.
	)
}

// Publish writes evs as JSON, in this order, and returns once the broker has acknowledged every one of them,
// or the first error (wrapped). The events of one order must reach one partition in Seq order.
func Publish(ctx context.Context, cl *kgo.Client, evs ...OrderEvent) error {
	rs := make([]*kgo.Record, 0, len(evs))
	for _, ev := range evs {
		v, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s/%d: %w", ev.OrderID, ev.Seq, err)
		}
		// The key picks the partition (murmur2 hash, as in Java's client): same order, same partition, and a
		// partition is read in the order it was written.
		rs = append(rs, &kgo.Record{Key: []byte(ev.OrderID), Value: v})
	}
	// ProduceSync waits for every record's acknowledgement (acks=all): a publish that failed is an error here,
	// not a message lost in a callback nobody reads.
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("publish %d order events: %w", len(rs), err)
	}
	return nil
}
