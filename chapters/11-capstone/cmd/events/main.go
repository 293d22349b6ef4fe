// Command events prints the order events on Kafka as they arrive (or from the start with -from-start): what
// the outbox relay published, with the message-id header a consumer dedupes on. From the repository root:
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
			var id string
			for _, h := range r.Headers {
				if h.Key == "message-id" {
					id = string(h.Value)
				}
			}
			fmt.Printf("%s/%d@%d key=%s message-id=%s %s\n", r.Topic, r.Partition, r.Offset, r.Key, id, r.Value)
		})
	}
}
