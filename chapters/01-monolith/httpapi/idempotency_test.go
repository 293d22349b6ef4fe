package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

type orderResponse struct {
	ID         int64  `json:"id"`
	TotalCents int64  `json:"total_cents"`
	Status     string `json:"status"`
}

// shopWith creates a user and a product with the given stock through the store.
func shopWith(t *testing.T, store *shop.Store, stock int) (shop.User, shop.Product) {
	t.Helper()
	ctx := t.Context()
	u, err := store.CreateUser(ctx, "ada", fmt.Sprintf("ada-%d@example.com", stock))
	require.NoError(t, err)
	p, err := store.CreateProduct(ctx, "pen", 250, stock)
	require.NoError(t, err)
	return u, p
}

func postOrder(t *testing.T, url string, userID, productID int64, key string) (int, orderResponse, []byte) {
	t.Helper()
	status, o, raw, err := sendOrder(url, userID, productID, key)
	require.NoError(t, err, "POST /orders (body: %s)", raw)
	return status, o, raw
}

// sendOrder posts an order for one unit of productID, with key as the Idempotency-Key when not empty.
func sendOrder(url string, userID, productID int64, key string) (int, orderResponse, []byte, error) {
	var header map[string]string
	if key != "" {
		header = map[string]string{IdempotencyKeyHeader: key}
	}
	body := map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}
	status, raw, err := send(http.MethodPost, url+"/orders", body, header)
	var o orderResponse
	if err == nil && status < 300 {
		err = json.Unmarshal(raw, &o)
	}
	return status, o, raw, err
}

func stockOf(t *testing.T, store *shop.Store, productID int64) int {
	t.Helper()
	p, err := store.GetProduct(t.Context(), productID)
	require.NoError(t, err)
	return p.Stock
}

func TestIdempotencyReplayReturnsFirstOrder(t *testing.T) {
	srv, store, db := newServer(t)
	u, p := shopWith(t, store, 10)

	status1, first, raw := postOrder(t, srv.URL, u.ID, p.ID, "key-1")
	require.Equal(t, http.StatusCreated, status1, "first POST /orders with key-1: status (body: %s)", raw)
	status2, again, raw := postOrder(t, srv.URL, u.ID, p.ID, "key-1")
	require.Equal(t, http.StatusOK, status2, "repeated POST /orders with key-1: status, want 200 for a replay (body: %s)", raw)
	require.Equal(t, first, again, "repeated POST /orders with key-1 = a different order, want the first one")

	require.Equal(t, 9, stockOf(t, store, p.ID), "stock after one order and one replay, want 10-1")
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n))
	require.Equal(t, 1, n, "orders stored after one order and one replay")

	status3, other, raw := postOrder(t, srv.URL, u.ID, p.ID, "key-2")
	require.Equal(t, http.StatusCreated, status3, "POST /orders with a new key: status (body: %s)", raw)
	require.NotEqual(t, first.ID, other.ID, "a new key must place a new order")

	status4, plain, raw := postOrder(t, srv.URL, u.ID, p.ID, "")
	require.Equal(t, http.StatusCreated, status4, "POST /orders without a key: status (body: %s)", raw)
	require.NotEqual(t, other.ID, plain.ID, "no key must place a new order")
}

func TestIdempotencyKeyIsPerUser(t *testing.T) {
	srv, store, _ := newServer(t)
	u1, p := shopWith(t, store, 10)
	u2, err := store.CreateUser(t.Context(), "bob", "bob@example.com")
	require.NoError(t, err)

	s1, o1, raw := postOrder(t, srv.URL, u1.ID, p.ID, "same-key")
	require.Equal(t, http.StatusCreated, s1, "user 1 POST /orders: status (body: %s)", raw)
	s2, o2, raw := postOrder(t, srv.URL, u2.ID, p.ID, "same-key")
	require.Equal(t, http.StatusCreated, s2, "user 2 POST /orders with user 1's key: status, want 201: keys belong to one user (body: %s)", raw)
	require.NotEqual(t, o1.ID, o2.ID, "two users with the same key got the same order")
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	for _, stock := range []int{1, 100} {
		t.Run(fmt.Sprintf("stock %d", stock), func(t *testing.T) {
			srv, store, db := newServer(t)
			u, p := shopWith(t, store, stock)

			const retries = 10
			type result struct {
				status int
				order  orderResponse
				raw    []byte
				err    error
			}
			results := make(chan result, retries)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range retries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					s, o, raw, err := sendOrder(srv.URL, u.ID, p.ID, "retry-me")
					results <- result{s, o, raw, err}
				}()
			}
			close(start)
			wg.Wait()
			close(results)

			created, replayed := 0, 0
			ids := map[int64]bool{}
			for r := range results {
				if r.err != nil {
					t.Errorf("concurrent POST /orders with one key: %v", r.err)
					continue
				}
				switch r.status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
					replayed++
				default:
					t.Errorf("concurrent POST /orders with one key: status %d, want 201 or 200 (body: %s)", r.status, r.raw)
					continue
				}
				ids[r.order.ID] = true
			}
			require.Equal(t, 1, created, "%d concurrent requests with one key: 201s = %d, want exactly 1 (claim the key before taking stock)", retries, created)
			require.Equal(t, retries-1, replayed,
				"%d concurrent requests with one key: 200 replays = %d, want %d: a retry must wait for the first request's key and replay its order (INSERT the key first, not SELECT then INSERT)",
				retries, replayed, retries-1)
			require.Len(t, ids, 1, "concurrent requests with one key returned different orders %v", ids)
			var n int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n))
			require.Equal(t, 1, n, "orders stored after %d concurrent requests with one key", retries)
			require.Equal(t, stock-1, stockOf(t, store, p.ID), "stock after %d concurrent requests with one key", retries)
		})
	}
}
