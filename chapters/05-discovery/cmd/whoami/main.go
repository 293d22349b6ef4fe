// Command whoami runs one instance of the chapter's service, built from your exercises:
// it listens on loopback, registers in Consul with an active gRPC check and a TTL heartbeat (05-register,
// 05-health) and, with -config, follows its limits in Consul KV (05-config). Ctrl-C deregisters it,
// waits -drain and stops; kill -9 leaves the registration behind, and the checks take it out of the passing set.
//
//	go run ./05-discovery/cmd/whoami -id whoami-1 -config whoami/limits
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gomicrolab/microlab/chapters/05-discovery/checks"
	"github.com/gomicrolab/microlab/chapters/05-discovery/hotconfig"
	"github.com/gomicrolab/microlab/chapters/05-discovery/instance"
)

func main() {
	var (
		consulAddr = flag.String("consul", "127.0.0.1:8500", "Consul agent HTTP address (host:port)")
		service    = flag.String("service", "whoami", "service name in Consul")
		id         = flag.String("id", fmt.Sprintf("whoami-%d", os.Getpid()), "instance id, unique per instance")
		addr       = flag.String("addr", "127.0.0.1:0", "gRPC listen address (port 0: any free port); a specific IP, since it is what registers and Consul refuses 0.0.0.0 and ::")
		interval   = flag.Duration("interval", 2*time.Second, "how often Consul calls the gRPC health service")
		ttl        = flag.Duration("ttl", 6*time.Second, "TTL of the heartbeat check; the instance beats every ttl/3")
		deregAfter = flag.Duration("deregister-after", time.Minute, "Consul removes an instance critical this long (at least 1m)")
		drain      = flag.Duration("drain", 2*time.Second, "keep serving this long after deregistering")
		configKey  = flag.String("config", "", "Consul KV key holding the limits as JSON, followed live (empty: none)")
	)
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix(*id + " ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *consulAddr, *service, *id, *addr, *interval, *ttl, *deregAfter, *drain, *configKey); err != nil {
		log.Fatal(err)
	}
	log.Print("stopped")
}

func run(ctx context.Context, consulAddr, service, id, addr string, interval, ttl, deregAfter, drain time.Duration, configKey string) error {
	cfg := api.DefaultConfig()
	cfg.Address = consulAddr
	client, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	if configKey != "" {
		if err := followConfig(ctx, client.KV(), configKey); err != nil {
			return fmt.Errorf("config %s: %w (create it first: consul kv put %s '{\"min_order_cents\":100,\"max_order_cents\":50000,\"max_items\":10}')", configKey, err, configKey)
		}
	}

	// The heartbeat starts at once: until Run has registered the check, its updates fail and it simply tries again.
	go func() { _ = checks.Heartbeat(ctx, client.Agent(), checks.TTLCheckID(id), ttl/3) }()

	return instance.Run(ctx, instance.Config{
		Consul: client, Service: service, ID: id, Addr: addr, DrainDelay: drain,
		Listen: func(network, address string) (net.Listener, error) {
			lis, err := net.Listen(network, address)
			if err == nil {
				log.Printf("listening on %s (gRPC, with health and reflection); registering in Consul as %s", lis.Addr(), service)
			}
			return lis, err
		},
		Registration: func(a *net.TCPAddr) (*api.AgentServiceRegistration, error) {
			return checks.Registration(checks.Options{
				Service: service, ID: id, Host: a.IP.String(), Port: a.Port,
				Interval: interval, Timeout: interval / 2, TTL: ttl, DeregisterAfter: deregAfter,
			})
		},
	})
}

// followConfig starts following key and logs every value that comes into force, and every rejected one.
func followConfig(ctx context.Context, kv *api.KV, key string) error {
	w, err := hotconfig.Watch(ctx, kv, key, hotconfig.Options{
		OnReject: func(err error) { log.Printf("config rejected, keeping the last good value: %v", err) },
	})
	if err != nil {
		return err
	}
	if w == nil || w.Current() == nil {
		return errors.New("hotconfig.Watch returned no value")
	}
	seen := w.Current()
	log.Printf("config %s in force: %+v", key, *seen)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.Done():
				return
			case <-t.C:
				if now := w.Current(); now != seen {
					seen = now
					log.Printf("config %s reloaded: %+v", key, *now)
				}
			}
		}
	}()
	return nil
}
