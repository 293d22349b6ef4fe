// Command shop runs chapter 03's system on loopback: the user service and the order service, each
// a gRPC server with the interceptor chain, the health service and server reflection. The order
// service calls the user service over gRPC with the retry policy of package client.
//
//	go run ./03-grpc/cmd/shop                      # from chapters/, after solving the exercises
//	go run ./03-grpc/cmd/token -user u1            # a bearer token for the seeded user u1
//
// Flags: -users and -orders (listen addresses), -secret (token HMAC key), -drain-delay, -user-timeout.
// Ctrl-C drains both servers (NOT_SERVING, wait, GracefulStop) within -shutdown-timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/authtoken"
	"github.com/gomicrolab/microlab/chapters/03-grpc/client"
	orderv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/graceful"
	"github.com/gomicrolab/microlab/chapters/03-grpc/interceptor"
	"github.com/gomicrolab/microlab/chapters/03-grpc/server"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
)

// serviceUser is the identity the order service uses when it calls the user service.
const serviceUser = "svc-order"

func main() {
	usersAddr := flag.String("users", "127.0.0.1:50051", "listen address of the user service (keep it on loopback)")
	ordersAddr := flag.String("orders", "127.0.0.1:50052", "listen address of the order service (keep it on loopback)")
	secret := flag.String("secret", envOr("SHOP_TOKEN_SECRET", "dev-secret-change-me"), "HMAC secret for bearer tokens (env SHOP_TOKEN_SECRET)")
	drainDelay := flag.Duration("drain-delay", 2*time.Second, "how long to keep serving after NOT_SERVING on shutdown")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "the most a shutdown may take")
	userTimeout := flag.Duration("user-timeout", time.Second, "per-call budget of the order service's calls to the user service")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, *usersAddr, *ordersAddr, []byte(*secret), *drainDelay, *shutdownTimeout, *userTimeout); err != nil {
		logger.Error("shop stopped", "err", err)
		os.Exit(1)
	}
}

func run(logger *slog.Logger, usersAddr, ordersAddr string, secret []byte, drainDelay, shutdownTimeout, userTimeout time.Duration) error {
	store := shop.NewStore()
	for _, u := range []shop.User{{Email: "ada@example.com", Name: "Ada"}, {Email: "mallory@example.com", Name: "Mallory"}} {
		created, err := store.CreateUser(context.Background(), u)
		if err != nil {
			return err
		}
		logger.Info("seeded user", "id", created.ID, "email", created.Email)
	}

	verify := authtoken.Verifier(secret)
	chain := interceptor.Chain(logger, verify)

	usersLis, err := net.Listen("tcp", usersAddr)
	if err != nil {
		return fmt.Errorf("listen for the user service: %w", err)
	}
	ordersLis, err := net.Listen("tcp", ordersAddr)
	if err != nil {
		_ = usersLis.Close()
		return fmt.Errorf("listen for the order service: %w", err)
	}

	// The order service reaches the user service like any other client: through client.Dial (the
	// retry policy) and with its own token. Plaintext is for loopback only; between hosts use mTLS.
	userConn, err := client.Dial("passthrough:///"+usersLis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(authtoken.Sign(secret, serviceUser))))
	if err != nil {
		return fmt.Errorf("dial the user service: %w", err)
	}
	defer userConn.Close()

	users := graceful.New(drainDelay, chain)
	userv1.RegisterUserServiceServer(users, server.NewUserServer(store))
	reflection.Register(users)

	orders := graceful.New(drainDelay, chain)
	orderv1.RegisterOrderServiceServer(orders, server.NewOrderServer(store, userv1.NewUserServiceClient(userConn), userTimeout))
	reflection.Register(orders)

	served := make(chan error, 2)
	go func() { served <- users.Serve(usersLis) }()
	go func() { served <- orders.Serve(ordersLis) }()
	logger.Info("serving", "users", usersLis.Addr().String(), "orders", ordersLis.Addr().String())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-served:
		users.Stop()
		orders.Stop()
		return err
	}

	logger.Info("draining", "delay", drainDelay)
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Orders first: it depends on users, so users must outlive it.
	errOrders := orders.Drain(shutdown)
	errUsers := users.Drain(shutdown)
	if errOrders != nil || errUsers != nil {
		return fmt.Errorf("drain: orders %v, users %v", errOrders, errUsers)
	}
	logger.Info("stopped")
	return nil
}

// bearer sends "authorization: Bearer <token>" with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity is false only because the shop runs on loopback; a token sent in
// plaintext between hosts can be read off the wire.
func (b bearer) RequireTransportSecurity() bool { return false }

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
