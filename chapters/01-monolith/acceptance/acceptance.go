// Package acceptance is a black-box test suite for the shop's HTTP API. It knows nothing but the
// base URL, so every later chapter (layers, gRPC behind a gateway, the capstone) runs it unchanged
// against its own build of the shop: same API, same behaviour.
//
// Run it from a test with the base URL of a running shop:
//
//	acceptance.Run(t, "http://127.0.0.1:8080")
//
// It creates its own users and products with unique emails, so it can share a database with other data.
package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// client talks to one shop.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

var seq atomic.Int64

// unique returns a string that no earlier run has used.
func unique() string { return fmt.Sprintf("%d-%d", time.Now().UnixNano(), seq.Add(1)) }

// Run runs the whole suite against the shop at baseURL (no trailing slash).
func Run(t *testing.T, baseURL string) {
	c := &client{t: t, base: strings.TrimSuffix(baseURL, "/"), http: &http.Client{Timeout: 10 * time.Second}}
	t.Run("users", c.users)
	t.Run("order and pay", c.orderAndPay)
	t.Run("idempotent retry", c.idempotentRetry)
	t.Run("not found", c.notFound)
}

type user struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type product struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int    `json:"stock"`
}

type order struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
	Items      []struct {
		ProductID  int64 `json:"product_id"`
		Quantity   int   `json:"quantity"`
		PriceCents int64 `json:"price_cents"`
	} `json:"items"`
}

type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

// do sends a request and decodes a JSON answer into out (when out is not nil).
func (c *client) do(t *testing.T, method, path string, body any, header map[string]string, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "%s %s: status %d, body %s is not the expected JSON", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

func (c *client) createUser(t *testing.T) user {
	t.Helper()
	var u user
	email := "buyer-" + unique() + "@example.com"
	status := c.do(t, http.MethodPost, "/users", map[string]any{"name": "buyer", "email": email}, nil, &u)
	require.Equal(t, http.StatusCreated, status, "POST /users: status")
	require.Equal(t, email, u.Email, "POST /users: email")
	return u
}

func (c *client) createProduct(t *testing.T, priceCents int64, stock int) product {
	t.Helper()
	var p product
	status := c.do(t, http.MethodPost, "/products", map[string]any{"name": "widget " + unique(), "price_cents": priceCents, "stock": stock}, nil, &p)
	require.Equal(t, http.StatusCreated, status, "POST /products: status")
	return p
}

func (c *client) stock(t *testing.T, productID int64) int {
	t.Helper()
	var p product
	status := c.do(t, http.MethodGet, fmt.Sprintf("/products/%d", productID), nil, nil, &p)
	require.Equal(t, http.StatusOK, status, "GET /products/%d: status", productID)
	return p.Stock
}

func orderBody(userID, productID int64, qty int) map[string]any {
	return map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": qty}}}
}

func (c *client) users(t *testing.T) {
	u := c.createUser(t)

	var got user
	require.Equal(t, http.StatusOK, c.do(t, http.MethodGet, fmt.Sprintf("/users/%d", u.ID), nil, nil, &got), "GET /users/%d", u.ID)
	require.Equal(t, u, got, "GET /users/%d = %+v, want what POST /users returned", u.ID, got)

	var e errorBody
	status := c.do(t, http.MethodPost, "/users", map[string]any{"name": "copy", "email": u.Email}, nil, &e)
	require.Equal(t, http.StatusConflict, status, "POST /users with a taken email: status")

	e = errorBody{}
	status = c.do(t, http.MethodPost, "/users", map[string]any{"name": "x", "email": "not-an-email"}, nil, &e)
	require.Equal(t, http.StatusBadRequest, status, "POST /users with a bad email: status")
	require.Contains(t, e.Fields, "email", "POST /users with a bad email: fields = %v, want the field email", e.Fields)
}

func (c *client) orderAndPay(t *testing.T) {
	u := c.createUser(t)
	p := c.createProduct(t, 1999, 2)

	var o order
	status := c.do(t, http.MethodPost, "/orders", orderBody(u.ID, p.ID, 2), nil, &o)
	require.Equal(t, http.StatusCreated, status, "POST /orders for 2 of 2 in stock: status")
	require.Equal(t, int64(2*1999), o.TotalCents, "POST /orders: total_cents for 2 × 1999")
	require.Equal(t, "pending", o.Status, "POST /orders: status of a new order")
	require.Equal(t, u.ID, o.UserID, "POST /orders: user_id")
	require.Len(t, o.Items, 1, "POST /orders: items")
	require.Equal(t, 0, c.stock(t, p.ID), "stock after ordering all of it")

	var e errorBody
	status = c.do(t, http.MethodPost, "/orders", orderBody(u.ID, p.ID, 1), nil, &e)
	require.Equal(t, http.StatusConflict, status, "POST /orders with no stock left: status")

	path := fmt.Sprintf("/orders/%d/payments", o.ID)
	status = c.do(t, http.MethodPost, path, map[string]any{"amount_cents": 1}, nil, &e)
	require.Equal(t, http.StatusConflict, status, "POST %s with the wrong amount: status", path)

	status = c.do(t, http.MethodPost, path, map[string]any{"amount_cents": o.TotalCents}, nil, nil)
	require.Equal(t, http.StatusCreated, status, "POST %s with the total: status", path)

	var paid order
	require.Equal(t, http.StatusOK, c.do(t, http.MethodGet, fmt.Sprintf("/orders/%d", o.ID), nil, nil, &paid), "GET /orders/%d", o.ID)
	require.Equal(t, "paid", paid.Status, "GET /orders/%d after payment: status", o.ID)
	require.Equal(t, o.TotalCents, paid.TotalCents, "GET /orders/%d: total_cents", o.ID)

	status = c.do(t, http.MethodPost, path, map[string]any{"amount_cents": o.TotalCents}, nil, &e)
	require.Equal(t, http.StatusConflict, status, "POST %s a second time: status", path)
}

func (c *client) idempotentRetry(t *testing.T) {
	u := c.createUser(t)
	p := c.createProduct(t, 500, 5)
	key := map[string]string{"Idempotency-Key": "acceptance-" + unique()}

	var first, again order
	require.Equal(t, http.StatusCreated, c.do(t, http.MethodPost, "/orders", orderBody(u.ID, p.ID, 1), key, &first), "POST /orders with a new key")
	require.Equal(t, http.StatusOK, c.do(t, http.MethodPost, "/orders", orderBody(u.ID, p.ID, 1), key, &again), "POST /orders repeating the key")
	require.Equal(t, first.ID, again.ID, "POST /orders repeating the key: order id = %d, want the first order %d", again.ID, first.ID)
	require.Equal(t, 4, c.stock(t, p.ID), "stock after an order and its retry")
}

func (c *client) notFound(t *testing.T) {
	u := c.createUser(t)
	var e errorBody
	require.Equal(t, http.StatusNotFound, c.do(t, http.MethodGet, "/orders/987654321", nil, nil, &e), "GET an unknown order")
	require.Equal(t, http.StatusNotFound, c.do(t, http.MethodGet, "/users/987654321", nil, nil, &e), "GET an unknown user")
	require.Equal(t, http.StatusNotFound, c.do(t, http.MethodPost, "/orders", orderBody(u.ID, 987654321, 1), nil, &e), "POST /orders for an unknown product")
}
