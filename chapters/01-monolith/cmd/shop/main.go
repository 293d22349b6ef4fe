// Command shop runs the monolith: one binary, one database, the whole HTTP API.
//
//	go run ./01-monolith/cmd/shop -addr 127.0.0.1:8080 -dsn 'root@tcp(127.0.0.1:3306)/shop?parseTime=true'
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"
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

// run is the whole program: it serves the shop on ln until ctx is done. Tests start it on a port of
// their own, which is how the acceptance suite sees exactly what a user of the binary sees.
func run(ctx context.Context, cfg config, ln net.Listener) error {
	// TODO(01-acceptance): wire the monolith together:
	//   - open the database (sql.Open("mysql", cfg.DSN)) and Ping it with a time limit, so that a wrong or
	//     unresponsive database fails at start, within seconds, not at the first request;
	//   - create the tables (shop.Migrate);
	//   - serve httpapi.New(shop.NewStore(db), slog.Default()) on ln with an *http.Server (set ReadHeaderTimeout to
	//     a few seconds: a client that never finishes its headers must not hold a connection for ever);
	//   - when ctx is done, shut the server down gracefully: stop accepting, let requests in flight finish
	//     (srv.Shutdown with a time limit of its own), then close the database, and return nil.
	_ = ctx
	_ = cfg
	ln.Close()
	return errors.New("TODO(01-acceptance): run is not implemented")
}
