package httpapi

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

type orderResponse struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
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

func postOrder(t *testing.T, url string, userID, productID int64, qty int, key string) (int, orderResponse, []byte) {
	t.Helper()
	status, o, raw, err := sendOrder(url, userID, productID, qty, key)
	require.NoError(t, err, "POST /orders (body: %s)", raw)
	explain500(t, url, status)
	return status, o, raw
}

// sendOrder posts an order for qty units of productID, with key as the Idempotency-Key when not empty.
func sendOrder(url string, userID, productID int64, qty int, key string) (int, orderResponse, []byte, error) {
	var header map[string]string
	if key != "" {
		header = map[string]string{IdempotencyKeyHeader: key}
	}
	body := map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": qty}}}
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

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func TestIdempotencyReplayReturnsFirstOrder(t *testing.T) {
	srv, store, db := newServer(t)
	u, p := shopWith(t, store, 10)

	status1, first, raw1 := postOrder(t, srv.URL, u.ID, p.ID, 1, "key-1")
	require.Equal(t, http.StatusCreated, status1, "first POST /orders with key-1: status (body: %s)", raw1)
	status2, again, raw2 := postOrder(t, srv.URL, u.ID, p.ID, 1, "key-1")
	require.Equal(t, http.StatusOK, status2, "repeated POST /orders with key-1: status, want 200 for a replay (body: %s)", raw2)
	require.Equal(t, first.ID, again.ID, "repeated POST /orders with key-1 = order %d, want the first order %d", again.ID, first.ID)
	// A client that lost the first answer retries to get it: the replay must be that answer, lines and all.
	require.JSONEq(t, string(raw1), string(raw2), "repeated POST /orders with key-1: body, want the same body as the first response")

	require.Equal(t, 9, stockOf(t, store, p.ID), "stock after one order and one replay, want 10-1")
	require.Equal(t, 1, countRows(t, db, "orders"), "orders stored after one order and one replay")

	status3, other, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "key-2")
	require.Equal(t, http.StatusCreated, status3, "POST /orders with a new key: status (body: %s)", raw)
	require.NotEqual(t, first.ID, other.ID, "a new key must place a new order")

	status4, plain, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "")
	require.Equal(t, http.StatusCreated, status4, "POST /orders without a key: status (body: %s)", raw)
	require.NotEqual(t, other.ID, plain.ID, "no key must place a new order")
	// Without a key there is nothing to replay: the same order again is a second purchase.
	status5, plainAgain, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "")
	require.Equal(t, http.StatusCreated, status5, "second POST /orders without a key, same items: status, want 201: an empty key is no key, never a replay (body: %s)", raw)
	require.NotEqual(t, plain.ID, plainAgain.ID, "second POST /orders without a key = order %d again, want a new order: an empty key is no key", plain.ID)
	require.Equal(t, 6, stockOf(t, store, p.ID), "stock after four orders of 1 and one replay, want 10-4")
}

func TestIdempotencyKeyIsPerUser(t *testing.T) {
	srv, store, _ := newServer(t)
	u1, p := shopWith(t, store, 10)
	u2, err := store.CreateUser(t.Context(), "bob", "bob@example.com")
	require.NoError(t, err)

	s1, o1, raw := postOrder(t, srv.URL, u1.ID, p.ID, 1, "same-key")
	require.Equal(t, http.StatusCreated, s1, "user 1 POST /orders: status (body: %s)", raw)
	s2, o2, raw := postOrder(t, srv.URL, u2.ID, p.ID, 1, "same-key")
	require.Equal(t, http.StatusCreated, s2, "user 2 POST /orders with user 1's key: status, want 201: keys belong to one user (body: %s)", raw)
	require.NotEqual(t, o1.ID, o2.ID, "two users with the same key got the same order")

	for _, tt := range []struct {
		name string
		user int64
		want orderResponse
	}{{"user 2", u2.ID, o2}, {"user 1", u1.ID, o1}} {
		status, got, raw := postOrder(t, srv.URL, tt.user, p.ID, 1, "same-key")
		require.Equal(t, http.StatusOK, status, "%s repeats POST /orders with same-key: status, want 200 (body: %s)", tt.name, raw)
		require.Equal(t, tt.want.ID, got.ID,
			"%s repeats same-key: order %d (of user %d), want its own order %d: look the key up by user AND key, or one user sees another's order", tt.name, got.ID, got.UserID, tt.want.ID)
	}
}

func TestIdempotencyKeyReusedWithOtherItems(t *testing.T) {
	srv, store, db := newServer(t)
	u, p := shopWith(t, store, 10)
	other, err := store.CreateProduct(t.Context(), "ink", 300, 10)
	require.NoError(t, err)

	status, first, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "k")
	require.Equal(t, http.StatusCreated, status, "POST /orders 1 pen with key k: status (body: %s)", raw)

	for _, tt := range []struct {
		name    string
		product int64
		qty     int
	}{{"another quantity", p.ID, 2}, {"another product", other.ID, 1}} {
		status, ctype, raw, err := sendFull(http.MethodPost, srv.URL+"/orders",
			map[string]any{"user_id": u.ID, "items": []any{map[string]any{"product_id": tt.product, "quantity": tt.qty}}},
			map[string]string{IdempotencyKeyHeader: "k"})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnprocessableEntity, status,
			"POST /orders with key k again but %s: status, want 422: a replay of the first order would answer a request the client did not send (body: %s)", tt.name, raw)
		requireJSONError(t, "POST /orders reusing a key", status, ctype, raw)
	}
	require.Equal(t, 1, countRows(t, db, "orders"), "orders stored after a key was reused with other items")
	require.Equal(t, 9, stockOf(t, store, p.ID), "stock after a key was reused with other items")
	require.Equal(t, 10, stockOf(t, store, other.ID), "stock of the other product after a key was reused with other items")

	status, again, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "k")
	require.Equal(t, http.StatusOK, status, "POST /orders with key k and the first items: status, want 200 (body: %s)", raw)
	require.Equal(t, first.ID, again.ID, "POST /orders with key k and the first items: order")
}

func TestIdempotencyFailedRequestFreesItsKey(t *testing.T) {
	srv, store, db := newServer(t)
	u, p := shopWith(t, store, 0)

	status, _, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "k")
	require.Equal(t, http.StatusConflict, status, "POST /orders with key k, out of stock: status (body: %s)", raw)
	_, err := db.Exec(`UPDATE products SET stock = 3 WHERE id = ?`, p.ID)
	require.NoError(t, err)
	status, o, raw := postOrder(t, srv.URL, u.ID, p.ID, 1, "k")
	require.Equal(t, http.StatusCreated, status,
		"POST /orders with key k after its first try failed and stock arrived: status, want 201: a failed request must not use up its key (claim it in the order's transaction) (body: %s)", raw)
	require.NotZero(t, o.ID)
	require.Equal(t, 2, stockOf(t, store, p.ID), "stock after the retry")
}

// concurrentOrders sends n orders for one unit with the same key while the test holds the product's row:
// it lets them go only when all n are waiting for a lock (or done), so they overlap for certain.
func concurrentOrders(t *testing.T, srv string, db *sql.DB, userID, productID int64, n int, key string) []result {
	t.Helper()
	release := locktest.Hold(t, db, "products", productID)
	results := make(chan result, n)
	var wg sync.WaitGroup
	var finished atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			s, o, raw, err := sendOrder(srv, userID, productID, 1, key)
			results <- result{s, o, raw, err}
		}()
	}
	locktest.WaitForWaiters(t, db, n, func() int { return int(finished.Load()) })
	release()
	wg.Wait()
	close(results)
	var out []result
	for r := range results {
		out = append(out, r)
	}
	return out
}

type result struct {
	status int
	order  orderResponse
	raw    []byte
	err    error
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	for _, stock := range []int{1, 100} {
		t.Run(fmt.Sprintf("stock %d", stock), func(t *testing.T) {
			srv, store, db, logs := newLoggedServer(t)
			u, p := shopWith(t, store, stock)

			const retries = 10
			created, replayed := 0, 0
			ids := map[int64]bool{}
			for _, r := range concurrentOrders(t, srv.URL, db, u.ID, p.ID, retries, "retry-me") {
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
					t.Errorf("concurrent POST /orders with one key: status %d, want 201 or 200 (body: %s)%s", r.status, r.raw, locktest.ExplainText(logs.String()))
					continue
				}
				ids[r.order.ID] = true
			}
			require.Equal(t, 1, created, "%d concurrent requests with one key: 201s = %d, want exactly 1 (claim the key before taking stock)", retries, created)
			require.Equal(t, retries-1, replayed,
				"%d concurrent requests with one key: 200 replays = %d, want %d: a retry must wait for the first request's key and replay its order (INSERT the key first, not SELECT then INSERT)",
				retries, replayed, retries-1)
			require.Len(t, ids, 1, "concurrent requests with one key returned different orders %v", ids)
			require.Equal(t, 1, countRows(t, db, "orders"), "orders stored after %d concurrent requests with one key", retries)
			require.Equal(t, stock-1, stockOf(t, store, p.ID), "stock after %d concurrent requests with one key", retries)
		})
	}
}

// TestIdempotencyConcurrentRetriesOfAFailingRequest: the first request with the key fails (no stock) while
// its retries wait for the key. Each retry must get the same clean answer, 409, never a database error.
func TestIdempotencyConcurrentRetriesOfAFailingRequest(t *testing.T) {
	srv, store, db, logs := newLoggedServer(t)
	u, p := shopWith(t, store, 0)

	const retries = 10
	for _, r := range concurrentOrders(t, srv.URL, db, u.ID, p.ID, retries, "doomed") {
		require.NoError(t, r.err, "concurrent POST /orders with one key")
		require.Equal(t, http.StatusConflict, r.status,
			"%d concurrent POST /orders with one key, out of stock: status %d, want 409 for each: when the first request rolls back, "+
				"the requests that waited for its key wake up together; make them wait one at a time (lock the user's row first), or retry on a deadlock (body: %s)%s",
			retries, r.status, r.raw, locktest.ExplainText(logs.String()))
	}
	require.Equal(t, 0, countRows(t, db, "orders"), "orders stored")
	require.Equal(t, 0, countRows(t, db, "idempotency_keys"), "idempotency keys stored after every request with the key failed")
}
