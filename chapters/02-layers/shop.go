// Package layers is the composition root of chapter 02's shop: the one place that knows every
// concrete type and wires adapters into the application and the application into the transport.
// Everything else depends inward only (transport -> app -> domain; adapters -> app, domain); the
// architecture test in this package checks that.
package layers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/mysqlstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/ordercache"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/payments"
	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/transport/httpapi"
)

// Config is what Run needs from the outside world.
type Config struct {
	MySQLDSN    string
	RedisAddr   string
	RedisDB     int
	RedisPrefix string       // every cache key starts with it
	Logger      *slog.Logger // where failed requests are logged (nil: slog.Default())
}

// Run serves the shop on ln until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config, ln net.Listener) error {
	defer ln.Close()
	db, err := sql.Open("mysql", cfg.MySQLDSN)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		return fmt.Errorf("connect to database: %w", err)
	}
	if err := mysqlstore.Migrate(ctx, db); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	defer rdb.Close()

	store := mysqlstore.New(db)
	orders := ordercache.New(store, rdb, ordercache.Options{Prefix: cfg.RedisPrefix, TTL: 5 * time.Minute, Jitter: time.Minute})
	svc, err := app.NewService(store, store, orders, &payments.Simulator{})
	if err != nil {
		return err
	}

	srv := &http.Server{Handler: httpapi.New(svc, cfg.Logger), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
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
