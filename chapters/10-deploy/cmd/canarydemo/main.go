// Command canarydemo runs chapter 10's canary chain on loopback: the Gin gateway, service "orders" in a v1
// and a v2 instance, service "payments" in a v1 and a v2 instance (gRPC, with reflection), and the "shipping"
// consumers v1 and v2 on Kafka, each in a consumer group of its own. From the repository root:
//
//	go run ./chapters/10-deploy/cmd/canarydemo -weight 20
//	curl -s -H 'X-User-ID: alice' localhost:8100/checkout
//	curl -s -H 'X-User-ID: alice' -H 'X-Canary: always' localhost:8100/checkout
//	for i in $(seq 1 200); do curl -s -H "X-User-ID: user-$i" localhost:8100/checkout | jq -r .version; done | sort | uniq -c
//	curl -s localhost:8100/stats
//	grpcurl -plaintext -H 'x-version: v2' -d '{"user_id":"bob"}' localhost:19112 canary.v1.HopService/Handle
//
// /stats counts what each instance and consumer served, by version and by the tag the request carried.
// -kill-canary leaves the payments canary deployed but down: canary requests fall back to payments v1.
// Environment: LAB_KAFKA_BROKERS (comma-separated); without it an in-process Kafka (kfake) runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"

	"github.com/gomicrolab/microlab/chapters/10-deploy/canary"
	canaryv1 "github.com/gomicrolab/microlab/chapters/10-deploy/gen/canary/v1"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:8100", "gateway listen address")
	grpcBase := flag.Int("grpc-port", 19111, "first of four gRPC ports: orders v1, orders v2, payments v1, payments v2")
	weight := flag.Int("weight", 20, "percent of users on the canary (v2)")
	topic := flag.String("topic", "canary-checkout", "Kafka topic of checkout events")
	killCanary := flag.Bool("kill-canary", false, "deploy the payments canary but leave it down")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *httpAddr, *grpcBase, *weight, *topic, *killCanary); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, httpAddr string, grpcBase, weight int, topic string, killCanary bool) error {
	gin.SetMode(gin.ReleaseMode)
	brokers, err := kafkaBrokers(topic)
	if err != nil {
		return err
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("kafka producer: %w", err)
	}
	defer producer.Close()
	if err := createTopic(ctx, producer, topic); err != nil {
		return err
	}

	served := &canary.Log{}
	var servers []*grpc.Server
	defer func() {
		for _, s := range servers {
			s.GracefulStop()
		}
	}()
	start := func(port int, svc *canary.Service) (string, error) {
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("listen %s: %w", addr, err)
		}
		s := canary.NewGRPCServer(svc)
		servers = append(servers, s)
		go func() { _ = s.Serve(lis) }()
		log.Printf("%s %s: gRPC on %s", svc.Name, svc.Version, addr)
		return addr, nil
	}
	backends := func(stableAddr, canaryAddr string) (canaryv1.HopServiceClient, func(), error) {
		s, err := canary.Dial(stableAddr)
		if err != nil {
			return nil, nil, err
		}
		c, err := canary.Dial(canaryAddr)
		if err != nil {
			_ = s.Close()
			return nil, nil, err
		}
		return canaryv1.NewHopServiceClient(canary.Backends{Stable: s, Canary: c}), func() { _ = s.Close(); _ = c.Close() }, nil
	}

	payV1, err := start(grpcBase+2, &canary.Service{Name: "payments", Version: canary.Stable, Log: served, Producer: producer, Topic: topic})
	if err != nil {
		return err
	}
	payV2 := fmt.Sprintf("127.0.0.1:%d", grpcBase+3)
	if killCanary {
		log.Printf("payments v2: deployed at %s but down (-kill-canary)", payV2)
	} else if payV2, err = start(grpcBase+3, &canary.Service{Name: "payments", Version: canary.Canary, Log: served, Producer: producer, Topic: topic}); err != nil {
		return err
	}
	payments, closePay, err := backends(payV1, payV2)
	if err != nil {
		return err
	}
	defer closePay()
	ordV1, err := start(grpcBase, &canary.Service{Name: "orders", Version: canary.Stable, Log: served, Next: payments})
	if err != nil {
		return err
	}
	ordV2, err := start(grpcBase+1, &canary.Service{Name: "orders", Version: canary.Canary, Log: served, Next: payments})
	if err != nil {
		return err
	}
	orders, closeOrd, err := backends(ordV1, ordV2)
	if err != nil {
		return err
	}
	defer closeOrd()

	for _, v := range []canary.Version{canary.Stable, canary.Canary} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
			kgo.ConsumerGroup("canarydemo-shipping-"+string(v)))
		if err != nil {
			return fmt.Errorf("kafka consumer %s: %w", v, err)
		}
		defer cl.Close()
		handle := canary.LogEvents(served, "shipping", v)
		go func() {
			_ = canary.Consume(ctx, cl, v, func(ctx context.Context, r *kgo.Record) error {
				log.Printf("shipping %s: processed %s (key %s, tag %s)", v, r.Value, r.Key, canary.FromContext(ctx))
				return handle(ctx, r)
			})
		}()
	}

	gw := canary.NewGateway(orders, weight)
	gw.GET("/stats", func(c *gin.Context) {
		counts := map[string]int{}
		for _, s := range served.All() {
			counts[fmt.Sprintf("%s %s (tag %s)", s.Service, s.Version, orNone(s.Tag))]++
		}
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%5d  %s\n", counts[k], k)
		}
		c.String(http.StatusOK, b.String())
	})
	srv := &http.Server{Addr: httpAddr, Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("gateway: http://%s/checkout (weight %d%% of users on v2; X-Canary: always|never pins), stats at /stats", httpAddr, weight)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func orNone(v canary.Version) string {
	if v == "" {
		return "none"
	}
	return string(v)
}

// kafkaBrokers returns LAB_KAFKA_BROKERS, or starts an in-process Kafka (kfake) with the topic on loopback.
func kafkaBrokers(topic string) ([]string, error) {
	if env := os.Getenv("LAB_KAFKA_BROKERS"); env != "" {
		log.Printf("kafka: %s (LAB_KAFKA_BROKERS)", env)
		return strings.Split(env, ","), nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.Ports(0))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	log.Printf("kafka: in-process kfake at %s, topic %s", strings.Join(c.ListenAddrs(), ","), topic)
	return c.ListenAddrs(), nil
}

func createTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
