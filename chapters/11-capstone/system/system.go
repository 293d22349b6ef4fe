// Package system starts the whole capstone in one process, on loopback: the user, payment and order services
// (each with its own database, each registered in Consul), the order service's outbox relay to Kafka, and the
// Gin gateway that finds the services through Consul. The tests and cmd/capstone both start it from here.
package system

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gomicrolab/microlab/chapters/11-capstone/gateway"
	orderv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/order/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/discovery"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/obs"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment"
	"github.com/gomicrolab/microlab/chapters/11-capstone/user"
)

// Config says where the infrastructure is and where to listen.
type Config struct {
	UserDSN, OrderDSN, PaymentDSN string // one database per service
	ConsulAddr                    string // host:port of a Consul agent's HTTP API
	Prefix                        string // prepended to every service name in Consul
	Brokers                       []string
	Topic                         string // the order events' topic; created if missing
	GatewayAddr                   string // "127.0.0.1:0" picks a free port
	// GRPCAddrs says where each service (UserService, OrderService, PaymentService) listens; a missing one
	// listens on 127.0.0.1, any free port.
	GRPCAddrs map[string]string
	// UserOptions and PaymentOptions are extra server options of the user and payment services (tests add
	// fault interceptors).
	UserOptions, PaymentOptions []grpc.ServerOption
	// OnInternal is told every error the order service answered with INTERNAL (may be nil), with the
	// request's ctx. It is logged too, when Logger is set.
	OnInternal func(ctx context.Context, method string, err error)
	// Tracer, if not nil, gives each part its TracerProvider (one per service name: "gateway", UserService,
	// OrderService, PaymentService). Spans cross the gRPC hops as W3C traceparent metadata.
	Tracer func(service string) trace.TracerProvider
	// Metrics, if not nil, gets the gateway's RED metrics, served at GET /metrics.
	Metrics *prometheus.Registry
	// Logger, if not nil, gets the gateway's access log and the order service's INTERNAL errors, with trace ids.
	Logger *zap.Logger
	// UserCache, if not nil, is the Redis cache in front of the user service's reads (user.Cache).
	UserCache *user.Cache
	// OnRelayError is told every failed outbox relay run (may be nil).
	OnRelayError func(error)
	// OrderDegrade, if not nil, makes the order service degrade checkout when the payment service fails
	// (11-degrade); nil answers a payment outage with 503.
	OrderDegrade *order.Degrade
	// OrderExpiry, if not nil, makes the order service cancel orders left unpaid (11-saga); nil never does.
	OrderExpiry *order.Expiry
	// OnOrderExpired is told the outcome of every ExpireOrder the order service ran: the order's status
	// afterwards ("cancelled", or "paid" when its money had been taken), or the error (may be nil).
	OnOrderExpired func(orderID int64, status string, err error)
	// Parts, if not empty, is what this process runs, out of UserService, OrderService, PaymentService and
	// Gateway; empty runs all four. The parts find each other in Consul under Prefix, so one system can be
	// spread over several processes, and an order service can run twice (cmd/capstone -only).
	Parts []string
}

// Names of the services in Consul, without the prefix.
const (
	UserService    = "user"
	OrderService   = "order"
	PaymentService = "payment"
	Gateway        = "gateway" // the HTTP gateway; not in Consul
)

// System is a running capstone.
type System struct {
	GatewayURL string            // http://host:port
	GRPC       map[string]string // service name -> host:port of its one instance
	Consul     *api.Client

	cancel context.CancelFunc
	idle   func() // closes the Consul client's idle connections
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
	failed chan struct{} // closed when the first part fails
	once   sync.Once
}

// Start starts every part in cfg.Parts and returns once the gateway listens and every service it started is
// registered in Consul. Stop it with Stop.
func Start(ctx context.Context, cfg Config) (*System, error) {
	want := func(part string) bool { return len(cfg.Parts) == 0 || slices.Contains(cfg.Parts, part) }
	for _, p := range cfg.Parts {
		if !slices.Contains([]string{UserService, OrderService, PaymentService, Gateway}, p) {
			return nil, fmt.Errorf("unknown part %q: want %s, %s, %s or %s", p, UserService, OrderService, PaymentService, Gateway)
		}
	}
	ccfg := api.DefaultConfig()
	ccfg.Address = cfg.ConsulAddr
	consul, err := api.NewClient(ccfg)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	if want(OrderService) {
		if err := createTopic(ctx, cfg.Brokers, cfg.Topic); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// Consul refuses a client address with more than 200 open connections (http_max_conns_per_client): the
	// keep-alive connections of every system started in one process would add up, so Stop closes them.
	s := &System{GRPC: map[string]string{}, Consul: consul, cancel: cancel, failed: make(chan struct{}),
		idle: ccfg.Transport.CloseIdleConnections}
	up := make(chan string, 3)
	listen := func(name string) (net.Listener, error) {
		addr := cfg.GRPCAddrs[name]
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen for %s: %w", name, err)
		}
		s.GRPC[name] = lis.Addr().String()
		return lis, nil
	}
	id := func(name string) string { return fmt.Sprintf("%s%s-%s", cfg.Prefix, name, s.GRPC[name]) }
	onUp := func(name string) func() { return func() { up <- name } }

	lis := map[string]net.Listener{}
	for _, name := range []string{UserService, PaymentService, OrderService} {
		if !want(name) {
			continue
		}
		l, err := listen(name)
		if err != nil {
			for _, l := range lis {
				l.Close()
			}
			cancel()
			return nil, err
		}
		lis[name] = l
	}
	onInternal := func(ctx context.Context, method string, err error) {
		if cfg.Logger != nil {
			obs.FromContext(ctx, cfg.Logger).Error("answered INTERNAL", zap.String("service", OrderService),
				zap.String("method", method), zap.Error(err))
		}
		if cfg.OnInternal != nil {
			cfg.OnInternal(ctx, method, err)
		}
	}
	// Built here, not inside the goroutines below: cfg.Tracer is the caller's function, called from one goroutine.
	orderOpts, orderDial := serverTracing(cfg, OrderService), clientTracing(cfg, OrderService)
	userOpts := append(serverTracing(cfg, UserService), cfg.UserOptions...)
	paymentOpts := append(serverTracing(cfg, PaymentService), cfg.PaymentOptions...)
	if l := lis[UserService]; l != nil {
		s.run("user service", func() error {
			return user.Run(runCtx, user.Config{DSN: cfg.UserDSN, Consul: consul, Service: cfg.Prefix + UserService,
				ID: id(UserService), Listener: l, Options: userOpts, OnUp: onUp(UserService), Cache: cfg.UserCache})
		})
	}
	if l := lis[PaymentService]; l != nil {
		s.run("payment service", func() error {
			return payment.Run(runCtx, payment.Config{DSN: cfg.PaymentDSN, Consul: consul, Service: cfg.Prefix + PaymentService,
				ID: id(PaymentService), Listener: l, Options: paymentOpts,
				OnUp: onUp(PaymentService)})
		})
	}
	if l := lis[OrderService]; l != nil {
		s.run("order service", func() error {
			return order.Run(runCtx, order.Config{DSN: cfg.OrderDSN, Brokers: cfg.Brokers, Topic: cfg.Topic, Consul: consul,
				Service: cfg.Prefix + OrderService, ID: id(OrderService), UserService: cfg.Prefix + UserService,
				PaymentService: cfg.Prefix + PaymentService, Listener: l, OnUp: onUp(OrderService),
				ServerOptions: orderOpts, DialOptions: orderDial,
				OnInternal: onInternal, OnRelayError: cfg.OnRelayError, Degrade: cfg.OrderDegrade,
				Expiry: cfg.OrderExpiry, OnExpired: cfg.OnOrderExpired})
		})
	}
	if !want(Gateway) {
		return s.waitUp(ctx, up, len(lis))
	}

	// The gateway finds the services through Consul like any other client would.
	resolver := &discovery.Builder{Client: consul}
	creds := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, clientTracing(cfg, "gateway")...)
	users, err := discovery.NewClient(resolver, cfg.Prefix+UserService, creds...)
	if err != nil {
		s.Stop()
		return nil, err
	}
	orders, err := discovery.NewClient(resolver, cfg.Prefix+OrderService, creds...)
	if err != nil {
		users.Close()
		s.Stop()
		return nil, err
	}
	gw := &gateway.Gateway{Users: userv1.NewUserServiceClient(users), Orders: orderv1.NewOrderServiceClient(orders),
		Registry: cfg.Metrics, Logger: cfg.Logger}
	if cfg.Tracer != nil {
		gw.Tracer = cfg.Tracer("gateway")
	}
	gwLis, err := net.Listen("tcp", cfg.GatewayAddr)
	if err != nil {
		users.Close()
		orders.Close()
		s.Stop()
		return nil, fmt.Errorf("listen for the gateway: %w", err)
	}
	// ReadHeaderTimeout: a client that never finishes its headers cannot hold a connection for ever.
	srv := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 5 * time.Second}
	s.GatewayURL = "http://" + gwLis.Addr().String()
	s.run("gateway", func() error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(gwLis) }()
		defer users.Close()
		defer orders.Close()
		select {
		case err := <-served:
			return err
		case <-runCtx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx) // the gateway stops first: requests in flight still reach the services
	})

	return s.waitUp(ctx, up, len(lis))
}

// waitUp waits until n services are registered, or one of them failed to start.
func (s *System) waitUp(ctx context.Context, up <-chan string, n int) (*System, error) {
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for ; n > 0; n-- {
		select {
		case <-up:
		case <-s.failed:
			return nil, errors.Join(append([]error{errors.New("capstone did not start")}, s.Stop())...)
		case <-timeout.C:
			return nil, errors.Join(errors.New("capstone: the services did not register in Consul within 30s"), s.Stop())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.Stop())
		}
	}
	return s, nil
}

// serverTracing and clientTracing are the otelgrpc stats handlers of service: each server span continues the
// caller's trace (W3C traceparent in the gRPC metadata), each client span sends it on.
func serverTracing(cfg Config, service string) []grpc.ServerOption {
	if cfg.Tracer == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(cfg.Tracer(service)), otelgrpc.WithPropagators(propagation.TraceContext{})))}
}

func clientTracing(cfg Config, service string) []grpc.DialOption {
	if cfg.Tracer == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(cfg.Tracer(service)), otelgrpc.WithPropagators(propagation.TraceContext{})))}
}

// run runs part in a goroutine; an error it returns is kept for Stop.
func (s *System) run(name string, part func() error) {
	s.wg.Go(func() {
		if err := part(); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s: %w", name, err))
			s.mu.Unlock()
			s.once.Do(func() { close(s.failed) })
		}
	})
}

// Stop stops every part (each deregisters from Consul and drains) and returns what went wrong.
func (s *System) Stop() error {
	s.cancel()
	s.wg.Wait()
	s.idle()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func createTopic(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}
