package pprof

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"
)

// Shard is one partition of the catalogue: a database replica or a remote index in real life.
// A slow shard may answer long after the request that asked it is gone.
type Shard interface {
	Products(ctx context.Context) ([]Product, error)
}

// ShardFunc adapts a function to Shard.
type ShardFunc func(ctx context.Context) ([]Product, error)

// Products calls f.
func (f ShardFunc) Products(ctx context.Context) ([]Product, error) { return f(ctx) }

// Server answers GET /search?q=word by asking every shard concurrently and merging their matches.
type Server struct {
	timeout time.Duration // budget of one search, on top of the caller's own deadline
	shards  []Shard
}

// NewServer returns a Server that gives each search at most timeout.
func NewServer(timeout time.Duration, shards ...Shard) *Server {
	return &Server{timeout: timeout, shards: shards}
}

// Response is the JSON body of a successful search.
type Response struct {
	Query    string    `json:"query"`
	Products []Product `json:"products"`
}

// StatusClientClosedRequest is what access logs record when the caller left before the answer (nginx's 499).
const StatusClientClosedRequest = 499

// Handler is the public API, served on the public port: GET /search?q=word.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", s.search)
	// Nothing else: no /debug/pprof/ here. A profile shows the command line (flags, sometimes secrets),
	// and /debug/pprof/profile?seconds=60 or /trace make the process work for whoever asks. This is
	// also why the service never imports net/http/pprof for its side effect and never serves
	// http.DefaultServeMux: that import registers the profiles on DefaultServeMux.
	return mux
}

// DebugHandler serves net/http/pprof under /debug/pprof/. main serves it on a loopback-only port,
// apart from the public one, so that only someone on the machine (or through an SSH tunnel or
// kubectl port-forward) can profile the process.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	// Index also serves the named profiles: /debug/pprof/goroutine, heap, allocs, block, mutex, threadcreate.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

type shardResult struct {
	products []Product
	err      error
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if q == "" {
		http.Error(w, "missing query parameter q", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()

	// The goroutine profile showed one goroutine per shard and per abandoned request, parked in
	// "chan send" on this line's channel: once the handler returned (timeout, caller gone, a shard
	// error), nobody would ever receive. A buffer with room for every shard lets each sender finish
	// and exit whoever stopped listening; the garbage collector takes the channel afterwards.
	// Selecting on ctx.Done() around the send works too: the deferred cancel ends ctx on every return.
	results := make(chan shardResult, len(s.shards))
	for _, sh := range s.shards {
		go func() {
			ps, err := sh.Products(ctx)
			if err != nil {
				results <- shardResult{err: err}
				return
			}
			results <- shardResult{products: Search(ps, q)}
		}()
	}

	var found []Product
	for range s.shards {
		select {
		case res := <-results:
			if res.err != nil {
				http.Error(w, "search unavailable", http.StatusBadGateway)
				return
			}
			found = append(found, res.products...)
		case <-ctx.Done():
			writeDone(ctx, w)
			return
		}
	}
	writeJSON(w, q, found)
}

// writeDone answers a search whose context ended: 504 when the budget ran out, 499 when the caller left.
func writeDone(ctx context.Context, w http.ResponseWriter) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		http.Error(w, "search timed out", http.StatusGatewayTimeout)
		return
	}
	http.Error(w, "client closed request", StatusClientClosedRequest)
}

// writeJSON answers the merged matches, ordered by id so that the answer does not depend on which
// shard was faster.
func writeJSON(w http.ResponseWriter, q string, found []Product) {
	slices.SortFunc(found, func(a, b Product) int { return cmp.Compare(a.ID, b.ID) })
	if found == nil {
		found = []Product{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Response{Query: q, Products: found})
}
