// Command shop runs the monolith: one binary, one database, the whole HTTP API.
//
//	go run ./01-monolith/cmd/shop -addr 127.0.0.1:8080 -dsn 'root@tcp(127.0.0.1:3306)/shop?parseTime=true'
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/chapters/01-monolith/httpapi"
	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

// config is everything run needs from the outside world.
type config struct {
	DSN string // go-sql-driver/mysql data source name
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dsn := flag.String("dsn", os.Getenv("SHOP_DSN"), "MySQL DSN (default $SHOP_DSN)")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("shop listening on http://%s", ln.Addr())
	if err := run(ctx, config{DSN: *dsn}, ln); err != nil {
		log.Fatal(err)
	}
}

// run is the whole program: it serves the shop on ln until ctx is done. Taking the listener (not an
// address) lets a test pick a free port first and know the URL before the server starts.
func run(ctx context.Context, cfg config, ln net.Listener) error {
	defer ln.Close() // Shutdown closes it too; this covers the early returns

	db, err := sql.Open("mysql", cfg.DSN)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	// Deferred before the server starts, so it runs after Shutdown has let every request finish:
	// closing the pool under a running handler would turn its order into a 500.
	defer db.Close()
	// sql.Open connects lazily; Ping makes a wrong DSN fail now, in front of the operator, rather than
	// on the first customer's request.
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	// A bounded pool: under load, requests wait for a connection instead of overwhelming MySQL.
	db.SetMaxOpenConns(50)
	db.SetMaxIdleConns(10)
	db.SetConnMaxLifetime(5 * time.Minute)
	if err := shop.Migrate(ctx, db); err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           httpapi.New(shop.NewStore(db), slog.Default()),
		ReadHeaderTimeout: 5 * time.Second, // a client that never finishes its headers cannot hold a connection
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests finish, but do not wait for ever.
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
