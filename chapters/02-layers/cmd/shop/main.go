// Command shop runs chapter 02's layered shop.
//
//	go run ./02-layers/cmd/shop -dsn 'root@tcp(127.0.0.1:3306)/shop?parseTime=true' -redis 127.0.0.1:6379
//	go run ./02-layers/cmd/shop -pg 'postgres://postgres@127.0.0.1:5432/shop' -redis 127.0.0.1:6379   # on PostgreSQL (02-postgres)
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	layers "github.com/gomicrolab/microlab/chapters/02-layers"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	var cfg layers.Config
	flag.StringVar(&cfg.MySQLDSN, "dsn", os.Getenv("SHOP_DSN"), "MySQL DSN (default $SHOP_DSN)")
	flag.StringVar(&cfg.PostgresURL, "pg", os.Getenv("SHOP_PG_URL"), "PostgreSQL URL; when set, used instead of MySQL (default $SHOP_PG_URL)")
	flag.StringVar(&cfg.RedisAddr, "redis", "127.0.0.1:6379", "Redis address")
	flag.StringVar(&cfg.RedisPrefix, "redis-prefix", "shop:", "prefix of every cache key")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("shop listening on http://%s", ln.Addr())
	if err := layers.Run(ctx, cfg, ln); err != nil {
		log.Fatal(err)
	}
}
