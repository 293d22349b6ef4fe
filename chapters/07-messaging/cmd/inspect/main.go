// Command inspect prints what a Kafka cluster holds, the way kafka-topics.sh --describe and
// kafka-consumer-groups.sh --describe do: topics with their partitions and end offsets, and each consumer group's
// committed offsets and lag. It uses franz-go's admin client (kadm), so it needs no JVM.
//
//	go run ./07-messaging/cmd/inspect                 # brokers from $LAB_KAFKA_BROKERS
//	go run ./07-messaging/cmd/inspect -brokers 127.0.0.1:9092 -group shipping -topic orders
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	def := os.Getenv("LAB_KAFKA_BROKERS")
	if def == "" {
		def = "127.0.0.1:9092"
	}
	brokers := flag.String("brokers", def, "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	group := flag.String("group", "", "only this consumer group")
	only := flag.String("topic", "", "only topics whose name starts with this")
	flag.Parse()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		log.Fatalf("list topics on %s: %v", *brokers, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Names()...)
	if err != nil {
		log.Fatalf("end offsets: %v", err)
	}
	fmt.Println("TOPIC\tPARTITION\tEND-OFFSET")
	for _, t := range topics.Sorted() {
		if !strings.HasPrefix(t.Topic, *only) {
			continue
		}
		for _, p := range t.Partitions.Sorted() {
			end, _ := ends.Lookup(t.Topic, p.Partition)
			fmt.Printf("%s\t%d\t%d\n", t.Topic, p.Partition, end.Offset)
		}
	}

	groups := []string{*group}
	if *group == "" {
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			log.Fatalf("list groups: %v", err)
		}
		groups = listed.Groups()
		sort.Strings(groups)
	}
	if len(groups) == 0 {
		return
	}
	lags, err := adm.Lag(ctx, groups...)
	if err != nil {
		log.Fatalf("lag: %v", err)
	}
	fmt.Println("\nGROUP\tSTATE\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
	for _, g := range groups {
		l := lags[g]
		for _, t := range l.Lag.Sorted() {
			if !strings.HasPrefix(t.Topic, *only) {
				continue
			}
			member := "-"
			if t.Member != nil {
				member = t.Member.ClientID
			}
			fmt.Printf("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", g, l.State, t.Topic, t.Partition, t.Commit.At, t.End.Offset, t.Lag, member)
		}
	}
}
