// Command orders-metrics serves a small orders API with the RED metrics of 09-metrics on 127.0.0.1, and its
// metrics at /metrics, so that you can scrape it with a real Prometheus (see the chapter's lesson).
//
//	go run ./09-observability/metrics/cmd/orders-metrics -addr 127.0.0.1:8099
package main

import (
	"flag"
	"log"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gomicrolab/microlab/chapters/09-observability/metrics"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address (loopback)")
	errRate := flag.Float64("errors", 0.01, "share of GET /orders/:id answered 503, to watch the error ratio and the burn rate")
	flag.Parse()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(m.Middleware(), gin.Recovery())
	r.GET("/orders/:id", func(c *gin.Context) {
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond) // 5-45 ms, like a cached read
		if rand.Float64() < *errRate {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "try later"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id")})
	})
	r.POST("/orders", func(c *gin.Context) {
		time.Sleep(time.Duration(50+rand.IntN(300)) * time.Millisecond) // 50-350 ms: some miss the 300 ms SLO
		c.JSON(http.StatusCreated, gin.H{"id": rand.IntN(1 << 20)})
	})
	r.GET("/panic", func(c *gin.Context) { panic("a bug") })
	r.GET("/metrics", gin.WrapH(metrics.Handler(reg)))

	log.Printf("orders on http://%s (metrics at /metrics)", *addr)
	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
