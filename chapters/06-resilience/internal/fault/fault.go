// Package fault puts an in-process TCP fault proxy (Shopify's toxiproxy) in front of a service, on loopback,
// so that tests and the runnable system can slow it down or cut it off for real: the client sees a real
// slow socket or a refused connection, not a mock.
package fault

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Proxy forwards 127.0.0.1:<port> to an upstream address and injects faults on demand.
type Proxy struct {
	mu      sync.Mutex
	p       *toxiproxy.Proxy
	latency time.Duration
}

// New starts a proxy on a free loopback port in front of upstream ("host:port").
func New(upstream string) (*Proxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "upstream", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("fault: start proxy to %s: %w", upstream, err)
	}
	return &Proxy{p: p}, nil
}

// Addr is the proxy's address: point the client here instead of at the upstream.
func (p *Proxy) Addr() string { return p.p.Listen }

// Latency is the delay currently added to every response.
func (p *Proxy) Latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

// SetLatency delays every chunk the upstream sends back by d (0 removes the delay).
// It applies to connections that are already open too.
func (p *Proxy) SetLatency(d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.p.Toxics.RemoveToxic(context.Background(), "latency")
	p.latency = 0
	if d <= 0 {
		return nil
	}
	body := fmt.Sprintf(`{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":%d}}`, d.Milliseconds())
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		return fmt.Errorf("fault: add latency: %w", err)
	}
	p.latency = d
	return nil
}

// Down closes the listener and every open connection: clients get "connection refused" until Up.
func (p *Proxy) Down() { p.p.Stop() }

// Up listens again at the same address.
func (p *Proxy) Up() error { return p.p.Start() }

// Close stops the proxy for good.
func (p *Proxy) Close() { p.p.Stop() }
