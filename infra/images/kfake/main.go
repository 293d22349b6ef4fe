// Command kfake runs an in-memory Kafka broker (github.com/twmb/franz-go/pkg/kfake) on a fixed port.
// infra/images/build.sh packs it, built with CGO_ENABLED=0, into the image microlab/kafka-kfake,
// the local stand-in for confluentinc/confluent-local on machines that cannot pull images.
//
// Kafka clients connect to the address a broker advertises in its metadata, not to the address
// they dialled. Inside a container the broker listens on KFAKE_LISTEN, but clients on the host
// reach it through a published port, so KFAKE_ADVERTISED must name that host address.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ReadyLine is printed once the broker accepts connections; the Docker provider waits for it.
const ReadyLine = "microlab kfake ready"

func main() {
	// Loopback unless told otherwise: the image sets KFAKE_LISTEN=0.0.0.0:9092, which inside a container
	// reaches only the container's own interfaces, published on the host's 127.0.0.1.
	listen := envOr("KFAKE_LISTEN", "127.0.0.1:9092")
	advertised := envOr("KFAKE_ADVERTISED", "127.0.0.1:9092")
	if err := run(listen, advertised); err != nil {
		log.Fatalf("kfake: %v", err)
	}
}

func run(listen, advertised string) error {
	adv, err := net.ResolveTCPAddr("tcp", advertised)
	if err != nil {
		return fmt.Errorf("KFAKE_ADVERTISED %q: %w", advertised, err)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		// kfake asks for a loopback listener; listen where the container publishes instead,
		// and report the host-side address so metadata points clients at the published port.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			ln, err := net.Listen(network, listen)
			if err != nil {
				return nil, err
			}
			return advertisedListener{Listener: ln, addr: adv}, nil
		}),
	)
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer cluster.Close()
	log.Printf("%s: listening on %s, advertising %s", ReadyLine, listen, advertised)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Printf("kfake: shutting down")
	return nil
}

// advertisedListener accepts on the real socket but reports the advertised address,
// which kfake uses as the broker's host and port in metadata responses.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
