package infra

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRabbitMQ runs the RabbitMQ cases against the server that RabbitMQ(t) uses, from the provider LAB_INFRA
// picks (LAB_INFRA=native, LAB_INFRA=docker ...), and checks the endpoint itself: loopback, a vhost per call,
// gone after cleanup. TestConformance runs the same cases against every provider.
func TestRabbitMQ(t *testing.T) {
	inst := need(t, RabbitMQService)
	t.Logf("%s via %s at %s", inst.Version, inst.Provider, inst.Addr)
	t.Run("endpoint", func(t *testing.T) {
		var vhost string
		t.Run("use", func(t *testing.T) {
			ep := RabbitMQ(t)
			vhost = ep.Vhost
			u, err := url.Parse(ep.URL)
			if err != nil {
				t.Fatalf("URL %q: %v", ep.URL, err)
			}
			if ap, err := netip.ParseAddrPort(u.Host); err != nil || !ap.Addr().IsLoopback() {
				t.Errorf("URL host = %q, want 127.0.0.1:port", u.Host)
			}
			if u.Path != "/"+ep.Vhost || ep.Prefix == "" {
				t.Errorf("URL path = %q, Prefix = %q; want /%s and a prefix", u.Path, ep.Prefix, ep.Vhost)
			}
			if other := RabbitMQ(t); other.Vhost == ep.Vhost {
				t.Errorf("two calls got the same vhost %s", ep.Vhost)
			}
			conn, err := amqp.Dial(ep.URL)
			if err != nil {
				t.Fatalf("amqp.Dial(%s): %v", ep.URL, err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				t.Fatalf("channel: %v", err)
			}
			if _, err := ch.QueueDeclare(ep.Prefix+"q", true, false, false, false, nil); err != nil {
				t.Fatalf("declare a queue in the endpoint's vhost: %v", err)
			}
		})
		// The subtest's cleanup deleted the vhost, and its queue with it.
		admin, _ := url.Parse(inst.AdminDSN)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := rabbitmqAPI(ctx, admin, http.MethodGet, "/api/vhosts/"+url.PathEscape(vhost), nil, nil)
		if err == nil {
			t.Errorf("vhost %s still exists after the test's cleanup", vhost)
		}
	})
	for _, c := range rabbitmqCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, inst) })
	}
}
