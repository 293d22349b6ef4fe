package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The capstone's paths under load, through its gateway.
const (
	PathBare  = "bare gin: GET /products/:id"             // the baseline, another process, nothing behind the handler
	PathRead  = "read: GET /products/:id"                 // gateway -> order service -> MySQL
	PathUser  = "read: GET /users/:id"                    // gateway -> user service -> Redis (its cache), MySQL on a miss
	PathPlace = "checkout 1/2: POST /orders"              // gateway -> order -> user service, then one transaction with the outbox row
	PathPay   = "checkout 2/2: POST /orders/:id/payments" // gateway -> order -> payment service, then a transaction with the outbox row
)

// Capstone measures the capstone's two read paths and both steps of its checkout through gatewayURL, and the bare
// Gin handler at bareURL, one after the other in one run, each within b. The orders that the pay step pays are
// placed before it, unmeasured. runID keeps this run's emails and idempotency keys apart from earlier runs'.
func Capstone(ctx context.Context, gatewayURL, bareURL, runID string, b Bounds, progress func(string)) ([]Result, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	var user, product struct {
		ID int64 `json:"id"`
	}
	if err := post(ctx, c, gatewayURL+"/users", nil, map[string]any{"name": "load", "email": "load-" + runID + "@example.com"}, &user); err != nil {
		return nil, err
	}
	// Stock for every order this run can place: the place step and the pay step's setup.
	if err := post(ctx, c, gatewayURL+"/products", nil, map[string]any{"name": "load-" + runID, "price_cents": 100,
		"stock": 2*b.Requests + 10}, &product); err != nil {
		return nil, err
	}
	order := func(key string) ([]byte, http.Header) {
		body, _ := json.Marshal(map[string]any{"user_id": user.ID,
			"items": []map[string]any{{"product_id": product.ID, "quantity": 1}}})
		return body, http.Header{"Idempotency-Key": {key}, "Content-Type": {"application/json"}}
	}
	var results []Result
	attack := func(t Target) error {
		progress(fmt.Sprintf("%s: up to %d requests or %s, %d clients", t.Name, b.Requests, b.Duration, b.Clients))
		r, err := Attack(ctx, t, b)
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("%s: %d requests, %d errors, %.0f req/s, p50 %s, p99 %s", r.Name, r.Requests, r.Errors,
			r.Throughput, ms(r.P50), ms(r.P99)))
		results = append(results, r)
		return nil
	}
	productPath := "/products/" + strconv.FormatInt(product.ID, 10)
	if err := attack(Static(PathBare, http.MethodGet, bareURL+productPath)); err != nil {
		return results, err
	}
	if err := attack(Static(PathRead, http.MethodGet, gatewayURL+productPath)); err != nil {
		return results, err
	}
	if err := attack(Static(PathUser, http.MethodGet, gatewayURL+"/users/"+strconv.FormatInt(user.ID, 10))); err != nil {
		return results, err
	}
	if err := attack(Target{Name: PathPlace, Next: func(i int) (Request, error) {
		body, h := order(fmt.Sprintf("load-%s-place-%d", runID, i))
		return Request{Method: http.MethodPost, URL: gatewayURL + "/orders", Body: body, Header: h}, nil
	}}); err != nil {
		return results, err
	}

	progress(fmt.Sprintf("placing %d orders for the pay step (not measured)", b.Requests))
	ids, err := placeOrders(ctx, c, gatewayURL, b.Requests, b.Clients, func(i int) ([]byte, http.Header) {
		return order(fmt.Sprintf("load-%s-pay-%d", runID, i))
	})
	if err != nil {
		return results, err
	}
	payBody := []byte(`{"amount_cents":100}`)
	err = attack(Target{Name: PathPay, Next: func(i int) (Request, error) {
		return Request{Method: http.MethodPost, URL: fmt.Sprintf("%s/orders/%d/payments", gatewayURL, ids[i]),
			Body: payBody, Header: http.Header{"Content-Type": {"application/json"}}}, nil
	}})
	return results, err
}

// placeOrders places n orders with clients workers and returns their ids, in the order of i.
func placeOrders(ctx context.Context, c *http.Client, gatewayURL string, n, clients int, order func(i int) ([]byte, http.Header)) ([]int64, error) {
	ids := make([]int64, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				body, h := order(i)
				var o struct {
					ID int64 `json:"id"`
				}
				if err := post(ctx, c, gatewayURL+"/orders", h, json.RawMessage(body), &o); err != nil {
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

// post sends in as JSON and decodes a 2xx answer into out.
func post(ctx context.Context, c *http.Client, url string, h http.Header, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, e.Error)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("POST %s: decode the answer: %w", url, err)
	}
	return nil
}
