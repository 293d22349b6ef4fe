// Command caller calls the whoami service through Consul with the chapter's resolver (05-resolver):
// round-robin over the passing instances, following every change without a restart.
//
//	go run ./05-discovery/cmd/caller -n 6
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gomicrolab/microlab/chapters/05-discovery/consulresolver"
	"github.com/gomicrolab/microlab/chapters/05-discovery/whoami"
)

func main() {
	var (
		consulAddr = flag.String("consul", "127.0.0.1:8500", "Consul agent HTTP address (host:port)")
		service    = flag.String("service", "whoami", "service name in Consul")
		n          = flag.Int("n", 0, "number of calls (0: until Ctrl-C)")
		every      = flag.Duration("every", 500*time.Millisecond, "pause between calls")
	)
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	cfg := api.DefaultConfig()
	cfg.Address = *consulAddr
	client, err := api.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := consulresolver.NewClient(&consulresolver.Builder{Client: client}, *service,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	for i := 1; *n == 0 || i <= *n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		id, err := whoami.Who(ctx, conn)
		cancel()
		if err != nil {
			log.Printf("call %d: %v", i, err)
		} else {
			log.Printf("call %d: answered by %s", i, id)
		}
		time.Sleep(*every)
	}
}
