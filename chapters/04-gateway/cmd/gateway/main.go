// Command gateway runs the chapter 04 system on loopback: the users service (HTTP), the orders service
// (gRPC) and, in front of both, the API gateway you built.
//
//	go run ./04-gateway/cmd/gateway                 # gateway on 127.0.0.1:8080
//	go run ./04-gateway/cmd/token -sub u-42 -role customer
//
// Flags: -addr, -users-addr, -orders-addr, -metrics-addr, -key, -timeout, -rate, -burst, -ip-rate, -ip-burst
// (go run ./04-gateway/cmd/gateway -h lists them with their defaults).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/cmd/internal/devkey"
	"github.com/gomicrolab/microlab/chapters/04-gateway/gateway"
	"github.com/gomicrolab/microlab/chapters/04-gateway/middleware"
	"github.com/gomicrolab/microlab/chapters/04-gateway/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the gateway's listen address")
	usersAddr := flag.String("users-addr", "127.0.0.1:8081", "the users service (HTTP)")
	ordersAddr := flag.String("orders-addr", "127.0.0.1:9091", "the orders service (gRPC)")
	metricsAddr := flag.String("metrics-addr", "127.0.0.1:9100", "Prometheus /metrics of the gateway")
	keyPath := flag.String("key", "gateway-dev-key.pem", "the identity provider's key (created if missing; the gateway uses only its public half)")
	timeout := flag.Duration("timeout", 2*time.Second, "per-request budget for the backends")
	perUser := flag.Float64("rate", 5, "requests per second per user")
	burst := flag.Int("burst", 10, "burst per user")
	perIP := flag.Float64("ip-rate", 50, "requests per second per client IP, before authentication")
	ipBurst := flag.Int("ip-burst", 100, "burst per client IP")
	flag.Parse()

	gin.SetMode(gin.ReleaseMode) // no route dump on start; the access log is the gateway's own
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, *addr, *usersAddr, *ordersAddr, *metricsAddr, *keyPath, *timeout, rate.Limit(*perUser), *burst, rate.Limit(*perIP), *ipBurst); err != nil {
		log.Error("exit", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, addr, usersAddr, ordersAddr, metricsAddr, keyPath string, timeout time.Duration,
	perUser rate.Limit, burst int, perIP rate.Limit, ipBurst int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	key, err := devkey.LoadOrCreate(keyPath)
	if err != nil {
		return err
	}

	// The two backends. Listen first, so the gateway never starts in front of a closed port.
	usersLis, err := net.Listen("tcp", usersAddr)
	if err != nil {
		return err
	}
	users := &http.Server{Handler: usersService(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = users.Serve(usersLis) }()
	defer users.Close()

	ordersLis, err := net.Listen("tcp", ordersAddr)
	if err != nil {
		return err
	}
	orders := grpc.NewServer()
	proxy.RegisterOrders(orders, ordersService{})
	go func() { _ = orders.Serve(ordersLis) }()
	defer orders.Stop()

	conn, err := grpc.NewClient(ordersLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	reg := prometheus.NewRegistry()
	usersURL := &url.URL{Scheme: "http", Host: usersLis.Addr().String()}
	gw := gateway.New(gateway.Config{
		Logger:        log,
		Metrics:       middleware.NewMetrics(reg),
		Verifier:      &auth.Verifier{Key: &key.PublicKey, Issuer: "https://id.shop.test", Audience: "shop-gateway", Leeway: 5 * time.Second},
		IPLimiter:     middleware.NewRateLimiter(perIP, ipBurst),
		Limiter:       middleware.NewRateLimiter(perUser, burst),
		Timeout:       timeout,
		SummaryBudget: timeout * 8 / 10,
		UsersURL:      usersURL,
		Orders:        conn,
	})

	metricsLis, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return err
	}
	metrics := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = metrics.Serve(metricsLis) }()
	defer metrics.Close()

	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	log.Info("listening", "gateway", lis.Addr().String(), "users", usersLis.Addr().String(),
		"orders", ordersLis.Addr().String(), "metrics", metricsLis.Addr().String(), "key", keyPath)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
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
	log.Info("stopped")
	return nil
}

// usersService is a stand-in users service. Like many web frameworks (and nginx), it normalises the path
// before routing: /users/../admin/stats is served as /admin/stats. That is why the gateway must not
// forward a path with dot segments.
func usersService() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case p == "/admin/stats":
			_ = json.NewEncoder(w).Encode(map[string]any{"users": 2, "orders": 3, "served_for": r.Header.Get(auth.HeaderUserID)})
		case strings.HasPrefix(p, "/users/"):
			id := strings.TrimPrefix(p, "/users/")
			_ = json.NewEncoder(w).Encode(map[string]any{"user_id": id, "name": "Ada", "query": r.URL.RawQuery, "caller": r.Header.Get(auth.HeaderUserID)})
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found"}` + "\n"))
		}
	})
}

// ordersService is a stand-in orders service: order "slow" takes 10 s (past the gateway's budget), and
// "404" does not exist.
type ordersService struct{}

func (ordersService) GetOrder(ctx context.Context, req *proxy.GetOrderRequest) (*proxy.Order, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	user := strings.Join(md.Get(proxy.MetadataUserID), ",")
	switch req.ID {
	case "slow":
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(10 * time.Second):
		}
	case "404":
		return nil, status.Error(codes.NotFound, "order 404 not found in shard orders-db-3")
	}
	return &proxy.Order{ID: req.ID, UserID: user, TotalCents: 1999, Status: "paid"}, nil
}

func (ordersService) ListOrders(ctx context.Context, req *proxy.ListOrdersRequest) (*proxy.OrderList, error) {
	return &proxy.OrderList{Orders: []proxy.Order{{ID: "o1", UserID: req.UserID, TotalCents: 1250, Status: "paid"}}}, nil
}
