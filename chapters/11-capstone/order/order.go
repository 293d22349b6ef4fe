// Package order wires the order service together: its database, the clients of the user and payment services
// (found through Consul), the outbox relay to Kafka, and the gRPC server. The layers live under internal/
// (domain, repository, service, transport), so nothing outside this directory can reach around Run.
package order

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/order/v1"
	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/discovery"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/outbox"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/repository"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/service"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/transport"
)

// Config says where the order service keeps its data, where it publishes, and how it finds the others.
type Config struct {
	DSN            string
	Brokers        []string
	Topic          string // order events
	Consul         *api.Client
	Service        string // its own name in Consul
	ID             string // this instance's id
	UserService    string // the user service's name in Consul
	PaymentService string // the payment service's name in Consul
	Listener       net.Listener
	ServerOptions  []grpc.ServerOption // e.g. tracing stats handlers
	DialOptions    []grpc.DialOption   // for the clients of the user and payment services
	OnUp           func()
	// OnInternal is told every error that the service answered with INTERNAL (may be nil): the log of what a
	// client never sees.
	OnInternal func(ctx context.Context, method string, err error)
	// OnRelayError is told every failed outbox relay run (may be nil).
	OnRelayError func(error)
	// Degrade, if not nil, is the 降级 switch of checkout: a per-call budget and a circuit breaker around the
	// payment client, and a payment outage answered with "accepted, still pending" and retried in the
	// background (11-degrade). Nil: an outage is the client's 503.
	Degrade *Degrade
	// Expiry, if not nil, cancels orders left unpaid for longer than Expiry.PayWithin (the checkout saga's
	// compensation, 11-saga); nil keeps them pending for ever.
	Expiry *Expiry
	// OnExpired is told the outcome of every ExpireOrder this instance ran: the order's status afterwards, or
	// the error (may be nil).
	OnExpired func(orderID int64, status string, err error)
}

// Degrade configures how checkout degrades when the payment service fails.
type Degrade = service.Degrade

// Expiry configures when an unpaid order is cancelled.
type Expiry = service.Expiry

// ExpiryFor is the expiry of orders that may stay unpaid for payWithin, or nil for 0 (never). It looks a
// tenth of payWithin apart, from 200ms to 10s: an order is cancelled soon after its time is up, and a look
// is one indexed query per instance.
func ExpiryFor(payWithin time.Duration) *Expiry {
	if payWithin <= 0 {
		return nil
	}
	return &Expiry{PayWithin: payWithin, Every: min(max(payWithin/10, 200*time.Millisecond), 10*time.Second)}
}

// callTimeout bounds one call to another service, so a hung instance cannot hold a request for ever.
const callTimeout = 5 * time.Second

// Run serves the order service until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	db, err := mysqldb.Open(ctx, cfg.DSN, repository.Schema...)
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("order service: %w", err)
	}
	defer db.Close()
	if err := repository.Migrate(ctx, db); err != nil { // a database made by an older version of the course
		cfg.Listener.Close()
		return fmt.Errorf("order service: %w", err)
	}
	resolver := &discovery.Builder{Client: cfg.Consul}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(timeoutInterceptor(callTimeout))}
	opts = append(opts, cfg.DialOptions...)
	users, err := discovery.NewClient(resolver, cfg.UserService, opts...)
	if err != nil {
		cfg.Listener.Close()
		return err
	}
	defer users.Close()
	payments, err := discovery.NewClient(resolver, cfg.PaymentService, opts...)
	if err != nil {
		cfg.Listener.Close()
		return err
	}
	defer payments.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("kafka producer: %w", err)
	}
	defer producer.Close()

	repo := &repository.Repository{DB: db, Topic: cfg.Topic}
	svc := &service.Service{Repo: repo,
		Users:    transport.Users{Client: userv1.NewUserServiceClient(users)},
		Payments: transport.Payments{Client: paymentv1.NewPaymentServiceClient(payments)}}
	// Closing goes around the breaker of 11-degrade: it runs in the background, one order at a time on a
	// timer, and callTimeout bounds each call, so it cannot pile up on a sick payment service the way
	// checkout requests would.
	svc.Closer = transport.Payments{Client: paymentv1.NewPaymentServiceClient(payments)}
	if cfg.Degrade != nil {
		svc.Payments = service.NewResilientPayments(svc.Payments, *cfg.Degrade)
		svc.Degrade, svc.Retries = cfg.Degrade, service.NewRetries()
		defer svc.Retries.Stop() // after the server stopped, before the database closes
	}
	srv := grpc.NewServer(cfg.ServerOptions...)
	orderv1.RegisterOrderServiceServer(srv, &transport.Server{Svc: svc, OnInternal: cfg.OnInternal})

	// The relay publishes what committed transactions put in the outbox, until the server has stopped.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var relay sync.WaitGroup
	relay.Go(func() {
		(&outbox.Relay{DB: db, Producer: producer, Service: "order", Batch: 100}).Run(relayCtx, 100*time.Millisecond, cfg.OnRelayError)
	})
	if cfg.Expiry != nil {
		relay.Go(func() { expireLoop(relayCtx, svc, *cfg.Expiry, cfg.OnExpired, cfg.OnInternal) })
	}
	err = discovery.Serve(ctx, discovery.Instance{Consul: cfg.Consul, Service: cfg.Service, ID: cfg.ID}, srv, cfg.Listener, cfg.OnUp)
	stopRelay()
	relay.Wait()
	return err
}

// expireLoop looks for expired orders every e.Every until ctx is done. A failed order is reported to
// onError (as the log of an INTERNAL answer would be) and stays pending for the next look.
func expireLoop(ctx context.Context, svc *service.Service, e Expiry, done func(int64, string, error), onError func(context.Context, string, error)) {
	t := time.NewTicker(e.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := svc.ExpireDue(ctx, e, done); err != nil && ctx.Err() == nil && onError != nil {
			onError(ctx, "ExpireDue", err)
		}
	}
}

func timeoutInterceptor(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
