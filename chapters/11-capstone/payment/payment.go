// Package payment is the payment service: it takes money, once per idempotency key, and keeps its own table.
//
// It is built on go-zero (github.com/zeromicro/go-zero v1.10.3) in goctl's rpc layout, written by hand in
// that shape (no goctl was run):
//
//	etc/payment.yaml         the config file (zrpc.RpcServerConf + DataSource)
//	internal/config          Config, what the file holds
//	internal/svc             ServiceContext: the database, built once
//	internal/logic           ChargeLogic, ListPaymentsLogic, CloseLogic: the business code, one per RPC
//	internal/server          the gRPC server, delegating each RPC to its logic
//	api/payment.api          the HTTP API in goctl's language; internal/{types,handler} serve it on a
//	                         rest.Server with the same logic (the system does not start it)
//	payment.go               Run: what goctl puts in payment.go's main, as a function the system can call
//
// The order service shows the other layout (internal/{domain,repository,service,transport} and cmd/);
// the chapter's README ("Three ways to lay out a Go microservice") compares the two, and Kratos'.
package payment

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/core/proc"
	"github.com/zeromicro/go-zero/zrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/config"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/server"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// Schema is the payment service's only table (see svc.Schema).
var Schema = svc.Schema

// ConfigFile is etc/payment.yaml, compiled in so Run works from any directory.
//
//go:embed etc/payment.yaml
var ConfigFile []byte

// Config says where the payment service keeps its data and how it is found.
type Config struct {
	DSN      string
	Consul   *api.Client
	Service  string // its name in Consul
	ID       string // this instance's id
	Listener net.Listener
	Options  []grpc.ServerOption // e.g. interceptors, the otelgrpc stats handler
	OnUp     func()
}

const (
	registryTimeout = 5 * time.Second
	// drainDelay is the pause between leaving Consul and stopping: callers' resolvers see the instance gone
	// before its connections close (摘流 first, then stop), as in chapter 05.
	drainDelay = 300 * time.Millisecond
)

// zrpc keeps process-wide state (proc's shutdown listeners, logx): one payment server at a time per process.
var running sync.Mutex

// Run serves the payment service until ctx is done: serve, register in Consul, OnUp; on ctx done
// deregister, drain, stop.
//
// zrpc v1.10.3 listens itself (net.Listen on ListenOn inside RpcServer.Start) and takes no net.Listener, so
// Run closes cfg.Listener and hands its address to ListenOn: the system still picks the address, and with
// "127.0.0.1:0" the port is known before registration. The port is free between the Close and zrpc's Listen
// only for a moment; if another process takes it, Start fails and Run returns the error.
// zrpc also stops only through proc's shutdown listeners (RpcServer.Stop just closes the log), which is
// why Run calls proc.Shutdown: that stops every zrpc server in the process, hence one at a time.
func Run(ctx context.Context, cfg Config) error {
	addr := cfg.Listener.Addr().String()
	var c config.Config
	if err := conf.LoadFromYamlBytes(ConfigFile, &c); err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("payment service: config: %w", err)
	}
	c.Name, c.ListenOn, c.DataSource = cfg.Service, addr, cfg.DSN

	svcCtx, err := svc.NewServiceContext(ctx, c)
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("payment service: %w", err)
	}
	defer svcCtx.Close()

	running.Lock()
	defer running.Unlock()
	bound := make(chan struct{})
	s, err := zrpc.NewServer(c.RpcServerConf, func(g *grpc.Server) {
		paymentv1.RegisterPaymentServiceServer(g, server.NewPaymentServiceServer(svcCtx))
		reflection.Register(g) // for grpcurl; goctl's main does this in dev mode
		close(bound)           // zrpc calls this after its net.Listen and just before Serve
	})
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("payment service: %w", err)
	}
	// Options (the otelgrpc stats handler, tests' interceptors) come first in the chain: they see every call
	// as the caller does, before go-zero's own interceptors (recover, timeout).
	s.AddOptions(cfg.Options...)

	cfg.Listener.Close()
	started := make(chan error, 1)
	go func() {
		defer func() { // Start logs and panics when it cannot listen
			if r := recover(); r != nil {
				started <- fmt.Errorf("zrpc start on %s: %v", addr, r)
			}
		}()
		s.Start()
		started <- nil
	}()
	select {
	case <-bound:
	case err := <-started:
		return fmt.Errorf("payment service: %w", err)
	}
	stop := func() error {
		proc.Shutdown() // GracefulStop of the zrpc server: in-flight calls finish
		return <-started
	}

	if err := register(ctx, cfg, addr); err != nil {
		return errors.Join(fmt.Errorf("payment service: %w", err), stop())
	}
	if cfg.OnUp != nil {
		cfg.OnUp()
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	defer cancel()
	var deregErr error
	if err := cfg.Consul.Agent().ServiceDeregisterOpts(cfg.ID, (&api.QueryOptions{}).WithContext(dctx)); err != nil {
		deregErr = fmt.Errorf("payment service: deregister %s: %w", cfg.ID, err)
	}
	time.Sleep(drainDelay)
	return errors.Join(deregErr, stop())
}

// register puts the instance in Consul with the same gRPC health check as every other capstone service
// (internal/discovery.Serve); zrpc's Health: true serves grpc.health.v1 for it.
func register(ctx context.Context, cfg Config, addr string) error {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return err
	}
	reg := &api.AgentServiceRegistration{
		ID: cfg.ID, Name: cfg.Service, Address: host, Port: port,
		Check: &api.AgentServiceCheck{
			CheckID:                        cfg.ID + ":grpc",
			Name:                           "gRPC health",
			GRPC:                           addr,
			Status:                         api.HealthPassing, // it already serves
			Interval:                       "2s",
			Timeout:                        "1s",
			DeregisterCriticalServiceAfter: "1m",
		},
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registryTimeout)
	defer cancel()
	if err := cfg.Consul.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(rctx)); err != nil {
		return fmt.Errorf("register %s at %s: %w", cfg.ID, addr, err)
	}
	return nil
}
