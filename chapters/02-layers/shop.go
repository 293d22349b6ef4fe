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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/mysqlstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/ordercache"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/payments"
	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/pgstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/transport/httpapi"
)

// Config is what Run needs from the outside world.
type Config struct {
	MySQLDSN    string
	PostgresURL string // when set, the shop stores its data in PostgreSQL (pgstore) instead of MySQL
	RedisAddr   string
	RedisDB     int
	RedisPrefix string       // every cache key starts with it
	Logger      *slog.Logger // where failed requests are logged (nil: slog.Default())
}

// Run serves the shop on ln until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config, ln net.Listener) error {
	defer ln.Close()
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, DB: cfg.RedisDB})
	defer rdb.Close()

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

// store is what the shop needs from a database adapter; mysqlstore and pgstore both are one.
type store interface {
	app.UserRepository
	app.ProductRepository
	app.OrderRepository
}

// openStore connects to PostgreSQL when cfg.PostgresURL is set, else to MySQL, and migrates the schema.
func openStore(ctx context.Context, cfg Config) (store, func(), error) {
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if cfg.PostgresURL != "" {
		pool, err := pgxpool.New(ctx, cfg.PostgresURL)
		if err != nil {
			return nil, nil, fmt.Errorf("open database: %w", err)
		}
		if err := pool.Ping(pingCtx); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("connect to database: %w", err)
		}
		if err := pgstore.Migrate(ctx, pool); err != nil {
			pool.Close()
			return nil, nil, err
		}
		return pgstore.New(pool), pool.Close, nil
	}
	db, err := sql.Open("mysql", cfg.MySQLDSN)
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := mysqlstore.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	return mysqlstore.New(db), func() { db.Close() }, nil
}
