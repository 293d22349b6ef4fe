// Command events prints the order events on Kafka as they arrive (or from the start with -from-start): what
// the outbox relay published, with the message-id header a consumer dedupes on and the trace id of the request
// that caused the event (its traceparent header; empty when tracing is off). From the repository root:
//
//	go run ./chapters/11-capstone/cmd/events -from-start
//
// It reads as no consumer group (it commits nothing), so running it never moves a real consumer's offsets.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("LAB_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	topic := flag.String("topic", "capstone-order-events", "topic to read")
	fromStart := flag.Bool("from-start", false, "read the topic from its first record, not only new ones")
	flag.Parse()
	if *brokers == "" {
		fmt.Fprintln(os.Stderr, "usage: events -brokers host:port,... [-topic T] [-from-start]")
		os.Exit(2)
	}
	offset := kgo.NewOffset().AtEnd()
	if *fromStart {
		offset = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(offset))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) { log.Printf("fetch %s/%d: %v", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var id, traceID string
			for _, h := range r.Headers {
				switch h.Key {
				case "message-id":
					id = string(h.Value)
				case "traceparent": // version-traceid-spanid-flags: the trace of the request that caused the event
					if parts := strings.Split(string(h.Value), "-"); len(parts) == 4 {
						traceID = parts[1]
					}
				}
			}
			fmt.Printf("%s/%d@%d key=%s message-id=%s trace=%s %s\n", r.Topic, r.Partition, r.Offset, r.Key, id, traceID, r.Value)
		})
	}
}
