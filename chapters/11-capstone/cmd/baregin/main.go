// Command baregin is the load test's baseline: a Gin server with one handler that answers GET /products/:id
// with a fixed product, the same JSON shape the capstone's gateway answers, and nothing behind it (no gRPC hop, no
// database). The gap between its figures and the gateway's, measured side by side in one run, is what the
// hops cost: `go run ./labctl demo --load` runs both (see docs/benchmarks.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

func main() {
	addr := flag.String("http", "127.0.0.1:0", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery()) // the gateway has it too
	r.GET("/products/:id", func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			c.JSON(http.StatusBadRequest, gin.H{"error": "invalid id"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": id, "name": "pen", "price_cents": 100, "stock": 1000})
	})
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("baregin listening on http://%s\n", lis.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(lis); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
