package shop

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/gomicrolab/microlab/chapters/06-resilience/internal/fault"
)

// Config builds a System.
type Config struct {
	PoolSize       int                    // database connections shared by every endpoint
	RequestTimeout time.Duration          // the order service's deadline per request; 0: none
	HoldPool       bool                   // pay while holding the connection (the naive order path)
	Pay            func(*Charger) PayFunc // how orders pay; Naive by default
	Wrap           func(http.Handler) http.Handler
}

// System is payments behind a fault proxy, and the order service calling payments through it, all on loopback.
type System struct {
	Payments *Payments
	Proxy    *fault.Proxy // set payment latency here, or cut payments off
	Charger  *Charger
	App      *App
	URL      string // the order service, http://127.0.0.1:port

	servers []*http.Server
}

// Start runs the system on free loopback ports. Close stops it.
func Start(cfg Config) (*System, error) {
	s := &System{Payments: &Payments{}}
	payURL, err := s.serve(s.Payments)
	if err != nil {
		return nil, err
	}
	if s.Proxy, err = fault.New(payURL); err != nil {
		s.Close()
		return nil, err
	}
	s.Charger = &Charger{URL: "http://" + s.Proxy.Addr(), Client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}}
	pay := Naive
	if cfg.Pay != nil {
		pay = cfg.Pay
	}
	s.App = &App{Pool: make(chan struct{}, cfg.PoolSize), Pay: pay(s.Charger), RequestTimeout: cfg.RequestTimeout, HoldPool: cfg.HoldPool}
	var h http.Handler = s.App.Handler()
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	addr, err := s.serve(h)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.URL = "http://" + addr
	return s, nil
}

func (s *System) serve(h http.Handler) (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(lis) }() // returns http.ErrServerClosed on Close
	return lis.Addr().String(), nil
}

// Close stops the servers (in-flight requests are cut off) and the proxy.
func (s *System) Close() {
	if s.Proxy != nil {
		s.Proxy.Close()
	}
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
		_ = srv.Close()
	}
	if s.Charger != nil {
		s.Charger.Client.CloseIdleConnections()
	}
}
