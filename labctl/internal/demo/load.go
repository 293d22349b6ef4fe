package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/loadgen"
)

// BarePackage is the load test's baseline, a Gin handler with nothing behind it, relative to the course root.
const BarePackage = "./chapters/11-capstone/cmd/baregin"

// The paths Load measures, in order: the bare baseline, then through the capstone's gateway.
const (
	PathBare  = "bare gin: GET /products/:id"             // the baseline, another process, nothing behind the handler
	PathRead  = "read: GET /products/:id"                 // gateway -> order service -> MySQL
	PathUser  = "read: GET /users/:id"                    // gateway -> user service -> Redis (its cache), MySQL on a miss
	PathPlace = "checkout 1/2: POST /orders"              // gateway -> order -> user service, then one transaction with the outbox row
	PathPay   = "checkout 2/2: POST /orders/:id/payments" // gateway -> order -> payment service, then a transaction with the outbox row
)

// LoadReport is what Load measured, in one run.
type LoadReport struct {
	Bounds  loadgen.Bounds
	Results []loadgen.Result          // in the order of the Path constants
	Parts   []string                  // the processes, in start order, the baseline last
	Memory  map[string]loadgen.Memory // each process's resident memory after the load
}

// Load starts the bare Gin baseline next to the running system, drives each path within b, one after the
// other, and then reads every process's resident memory. The orders that the pay step pays are placed before
// it, unmeasured.
func (s *System) Load(ctx context.Context, b loadgen.Bounds) (*LoadReport, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	bare := &Part{Name: "baregin", Bin: "baregin", Args: []string{"-http", addr}, Log: filepath.Join(s.StateDir, "baregin.log")}
	s.Parts = append(s.Parts, bare) // Stop stops it with the rest
	if err := s.spawn(bare); err != nil {
		return nil, err
	}
	s.cfg.Progress("started %-8s pid %d  (the baseline: a bare Gin handler)", bare.Name, bare.PID)
	if err := s.WriteState(); err != nil {
		return nil, err
	}
	bareURL := "http://" + addr
	if err := waitAnswers(ctx, bare, bareURL+"/products/1", 20*time.Second); err != nil {
		return nil, err
	}

	// One user and one product for the whole run, with stock for every order it places; the run id keeps the
	// email and the idempotency keys apart from earlier runs'.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var user, product struct {
		ID int64 `json:"id"`
	}
	if _, err := s.call(ctx, "", http.MethodPost, "/users", "", map[string]any{"name": "load", "email": "load-" + run + "@example.com"}, http.StatusCreated, &user); err != nil {
		return nil, fmt.Errorf("load test setup: %w", err)
	}
	if _, err := s.call(ctx, "", http.MethodPost, "/products", "", map[string]any{"name": "load-" + run, "price_cents": 100, "stock": 2*b.Requests + 10}, http.StatusCreated, &product); err != nil {
		return nil, fmt.Errorf("load test setup: %w", err)
	}
	orderBody, _ := json.Marshal(map[string]any{"user_id": user.ID, "items": []map[string]any{{"product_id": product.ID, "quantity": 1}}})
	placeReq := func(key string) loadgen.Request {
		return loadgen.Request{Method: http.MethodPost, URL: s.GatewayURL + "/orders", Body: orderBody,
			Header: http.Header{"Idempotency-Key": {key}, "Content-Type": {"application/json"}}}
	}

	rep := &LoadReport{Bounds: b, Memory: map[string]loadgen.Memory{}}
	attack := func(t loadgen.Target) error {
		s.cfg.Progress("load: %s: up to %d requests or %s, %d clients", t.Name, b.Requests, b.Duration, b.Clients)
		r, err := loadgen.Attack(ctx, t, b)
		if err != nil {
			return fmt.Errorf("load test: %w", err)
		}
		s.cfg.Progress("load: %s: %d requests, %d errors, %.0f req/s, p50 %v, p99 %v", r.Name, r.Requests, r.Errors,
			r.Throughput, ms(r.P50), ms(r.P99))
		rep.Results = append(rep.Results, r)
		return nil
	}
	productPath := "/products/" + strconv.FormatInt(product.ID, 10)
	for _, t := range []loadgen.Target{
		loadgen.Static(PathBare, http.MethodGet, bareURL+productPath),
		loadgen.Static(PathRead, http.MethodGet, s.GatewayURL+productPath),
		loadgen.Static(PathUser, http.MethodGet, s.GatewayURL+"/users/"+strconv.FormatInt(user.ID, 10)),
		{Name: PathPlace, Next: func(i int) (loadgen.Request, error) { return placeReq(fmt.Sprintf("load-%s-place-%d", run, i)), nil }},
	} {
		if err := attack(t); err != nil {
			return nil, err
		}
	}
	s.cfg.Progress("load: placing %d orders for the pay step (not measured)", b.Requests)
	ids, err := s.placeOrders(ctx, b.Requests, b.Clients, orderBody, func(i int) string { return fmt.Sprintf("load-%s-pay-%d", run, i) })
	if err != nil {
		return nil, fmt.Errorf("load test setup: %w", err)
	}
	payBody := []byte(`{"amount_cents":100}`)
	if err := attack(loadgen.Target{Name: PathPay, Next: func(i int) (loadgen.Request, error) {
		return loadgen.Request{Method: http.MethodPost, URL: fmt.Sprintf("%s/orders/%d/payments", s.GatewayURL, ids[i]),
			Body: payBody, Header: http.Header{"Content-Type": {"application/json"}}}, nil
	}}); err != nil {
		return nil, err
	}

	for _, p := range s.Parts {
		m, err := loadgen.ReadMemory(p.PID)
		if err != nil {
			return nil, fmt.Errorf("memory of %s: %w", p.Name, err)
		}
		rep.Parts = append(rep.Parts, p.Name)
		rep.Memory[p.Name] = m
	}
	return rep, nil
}

// placeOrders places n orders with clients workers and returns their ids, in the order of i.
func (s *System) placeOrders(ctx context.Context, n, clients int, body []byte, key func(i int) string) ([]int64, error) {
	ids := make([]int64, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				var o struct {
					ID int64 `json:"id"`
				}
				if _, err := s.call(ctx, "", http.MethodPost, "/orders", key(i), json.RawMessage(body), http.StatusCreated, &o); err != nil {
					errs <- err
					return
				}
				ids[i] = o.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// waitAnswers polls url until it answers 200, the part exits, or timeout passes.
func waitAnswers(ctx context.Context, p *Part, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: %s exited while starting; its log: %s", ErrUnhealthy, p.Name, tail(p.Log, 10))
		case <-ctx.Done():
			return fmt.Errorf("%w: %s did not answer %s within %v", ErrUnhealthy, p.Name, url, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
