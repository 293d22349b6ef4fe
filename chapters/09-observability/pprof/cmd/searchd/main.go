// Command searchd runs the catalogue search on two loopback ports: the public API and, apart from it,
// the pprof endpoints.
//
//	go run ./09-observability/pprof/cmd/searchd                 (inside chapters/)
//	curl 'localhost:8080/search?q=tea'
//	curl 'localhost:6060/debug/pprof/goroutine?debug=1'
//
// The catalogue lives in two in-memory shards; -shard-delay makes each shard answer after a random
// delay up to that bound, as a real replica sometimes does, so that some searches run past -timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gomicrolab/microlab/chapters/09-observability/pprof"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "public API address")
	debugAddr := flag.String("debug", "127.0.0.1:6060", "pprof address; must be a loopback address")
	products := flag.Int("products", 20000, "catalogue size")
	timeout := flag.Duration("timeout", 100*time.Millisecond, "budget of one search")
	delay := flag.Duration("shard-delay", 150*time.Millisecond, "each shard answers after a random delay up to this")
	flag.Parse()

	if err := pprof.RequireLoopback(*debugAddr); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cat := catalogue(*products)
	half := len(cat) / 2
	srv := pprof.NewServer(*timeout, slowShard(cat[:half], *delay), slowShard(cat[half:], *delay))

	public := &http.Server{Addr: *addr, Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	debug := &http.Server{Addr: *debugAddr, Handler: pprof.DebugHandler(), ReadHeaderTimeout: 5 * time.Second}
	for _, s := range []*http.Server{public, debug} {
		go func() {
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatal(err)
			}
		}()
	}
	log.Printf("search on http://%s/search?q=tea, pprof on http://%s/debug/pprof/", *addr, *debugAddr)

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = public.Shutdown(shutdown)
	_ = debug.Shutdown(shutdown)
}

// slowShard answers its products after a random delay up to maxDelay. Like many real clients, it
// does not watch ctx: its answer arrives whether or not anyone still waits for it.
func slowShard(products []pprof.Product, maxDelay time.Duration) pprof.Shard {
	return pprof.ShardFunc(func(ctx context.Context) ([]pprof.Product, error) {
		if maxDelay > 0 {
			time.Sleep(rand.N(maxDelay))
		}
		return products, nil
	})
}

func catalogue(n int) []pprof.Product {
	adjectives := []string{"Green", "Black", "Iced", "Organic", "Smoky", "Earl Grey", "Jasmine"}
	nouns := []string{"Tea", "Teapot", "Coffee", "Steak", "Tea Cup", "Mug", "Kettle", "Tea-towel", "Biscuit"}
	out := make([]pprof.Product, n)
	for i := range out {
		out[i] = pprof.Product{ID: i + 1, Name: fmt.Sprintf("%s %s %d g", adjectives[i%len(adjectives)], nouns[i%len(nouns)], 50+i%400)}
	}
	return out
}
