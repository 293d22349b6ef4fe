// Command order runs one instance of the order service on its own, the way it is deployed: it registers in
// Consul and finds the user and payment services there (start them first, e.g. with cmd/capstone, which
// names them capstone-user and capstone-payment). From the repository root:
//
//	go run ./chapters/11-capstone/order/cmd -dsn "$LAB_MYSQL_DSN" -brokers "$LAB_KAFKA_BROKERS" -addr 127.0.0.1:0
//
// A second instance next to cmd/capstone's makes Consul list two, and the gateway balances over both.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gomicrolab/microlab/chapters/11-capstone/order"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN of the order service's own database")
	brokers := flag.String("brokers", os.Getenv("LAB_KAFKA_BROKERS"), "Kafka brokers, comma-separated")
	consulAddr := flag.String("consul", "127.0.0.1:8500", "Consul HTTP API host:port")
	addr := flag.String("addr", "127.0.0.1:0", "gRPC listen address")
	prefix := flag.String("prefix", "capstone-", "prefix of the service names in Consul")
	topic := flag.String("topic", "capstone-order-events", "Kafka topic of order events")
	payWithin := flag.Duration("pay-within", 15*time.Minute, "cancel an order left unpaid this long (0: never)")
	flag.Parse()
	if *dsn == "" || *brokers == "" {
		fmt.Fprintln(os.Stderr, "usage: order -dsn DSN -brokers host:port,... [-consul host:port] [-addr host:port]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := api.DefaultConfig()
	cfg.Address = *consulAddr
	consul, err := api.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	err = order.Run(ctx, order.Config{DSN: *dsn, Brokers: strings.Split(*brokers, ","), Topic: *topic, Consul: consul,
		Service: *prefix + "order", ID: *prefix + "order-" + lis.Addr().String(), UserService: *prefix + "user",
		PaymentService: *prefix + "payment", Listener: lis, Expiry: order.ExpiryFor(*payWithin),
		OnUp:       func() { log.Printf("order service serving gRPC on %s, registered as %sorder", lis.Addr(), *prefix) },
		OnInternal: func(_ context.Context, method string, err error) { log.Printf("%s: INTERNAL: %v", method, err) },
		OnExpired: func(id int64, status string, err error) {
			if err != nil {
				log.Printf("expiring unpaid order %d failed, it stays pending: %v", id, err)
				return
			}
			log.Printf("unpaid order %d expired: %s", id, status)
		}})
	if err != nil {
		log.Fatal(err)
	}
}
