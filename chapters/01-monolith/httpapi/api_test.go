package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

func TestAPIValidationFieldErrors(t *testing.T) {
	srv, _, _ := newServer(t)
	longEmail := "ada@" + strings.Repeat(strings.Repeat("e", 60)+".", 4) + "example.com"
	tests := []struct {
		name       string
		path       string
		body       any
		wantFields []string // JSON paths, sorted
	}{
		{"user: empty body", "/users", map[string]any{}, []string{"email", "name"}},
		{"user: bad email", "/users", map[string]any{"name": "ada", "email": "not-an-email"}, []string{"email"}},
		{"user: name too long", "/users", map[string]any{"name": strings.Repeat("a", 101), "email": "a@example.com"}, []string{"name"}},
		// A valid address of 259 characters: only a length rule (the column is VARCHAR(255)) catches it.
		{"user: email too long", "/users", map[string]any{"name": "ada", "email": longEmail}, []string{"email"}},
		{"product: name too long", "/products", map[string]any{"name": strings.Repeat("p", 101), "price_cents": 100, "stock": 1}, []string{"name"}},
		{"product: zero price, negative stock", "/products", map[string]any{"name": "pen", "price_cents": 0, "stock": -1}, []string{"price_cents", "stock"}},
		{"product: wrong type", "/products", `{"name":"pen","price_cents":"cheap","stock":1}`, []string{"price_cents"}},
		{"order: no items", "/orders", map[string]any{"user_id": 1, "items": []any{}}, []string{"items"}},
		{"order: missing items and user", "/orders", map[string]any{}, []string{"items", "user_id"}},
		{"order: zero quantity in second item", "/orders", map[string]any{"user_id": 1, "items": []any{
			map[string]any{"product_id": 1, "quantity": 1}, map[string]any{"product_id": 2, "quantity": 0},
		}}, []string{"items[1].quantity"}},
		{"payment: zero amount", "/orders/1/payments", map[string]any{"amount_cents": 0}, []string{"amount_cents"}},
		// `required` on a number only means "not zero": negative ids and amounts need min=1.
		{"product: negative price", "/products", map[string]any{"name": "pen", "price_cents": -5, "stock": 1}, []string{"price_cents"}},
		{"order: negative ids", "/orders", map[string]any{"user_id": -1, "items": []any{
			map[string]any{"product_id": -2, "quantity": 1},
		}}, []string{"items[0].product_id", "user_id"}},
		{"payment: negative amount", "/orders/1/payments", map[string]any{"amount_cents": -100}, []string{"amount_cents"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := call(t, http.MethodPost, srv.URL+tt.path, tt.body, nil)
			require.Equal(t, http.StatusBadRequest, status, "POST %s %v: status, want 400 (body: %s)", tt.path, tt.body, raw)
			var body errorResponse
			require.NoError(t, json.Unmarshal(raw, &body), "POST %s: body %s is not an error object", tt.path, raw)
			got := slices.Sorted(maps.Keys(body.Fields))
			require.Equal(t, tt.wantFields, got,
				"POST %s %v: fields = %v, want the JSON paths %v (body: %s)", tt.path, tt.body, got, tt.wantFields, raw)
			for f, msg := range body.Fields {
				require.NotEmpty(t, msg, "field %q has an empty message", f)
			}
		})
	}

	t.Run("malformed JSON", func(t *testing.T) {
		status, raw := call(t, http.MethodPost, srv.URL+"/users", `{"name":`, nil)
		require.Equal(t, http.StatusBadRequest, status, "POST /users with broken JSON: status, want 400 (body: %s)", raw)
	})
}

func TestAPIStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"not found, wrapped", fmt.Errorf("get user 7: %w", shop.ErrNotFound), http.StatusNotFound},
		{"conflict", shop.ErrConflict, http.StatusConflict},
		{"out of stock, wrapped twice", fmt.Errorf("place order: %w", fmt.Errorf("product 3: %w", shop.ErrOutOfStock)), http.StatusConflict},
		{"invalid, wrapped", fmt.Errorf("place order: %w", shop.ErrInvalid), http.StatusBadRequest},
		{"anything else", errors.New("dial tcp 10.0.0.1:3306: connection refused"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, statusOf(tt.err), "statusOf(%v)", tt.err)
		})
	}
}

func TestAPIDomainErrorsOverHTTP(t *testing.T) {
	srv, _, db := newServer(t)
	status, raw := call(t, http.MethodPost, srv.URL+"/users", map[string]any{"name": "ada", "email": "ada@example.com"}, nil)
	require.Equal(t, http.StatusCreated, status, "POST /users: status (body: %s)", raw)

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{"unknown user", http.MethodGet, "/users/999999", nil, http.StatusNotFound},
		{"unknown product", http.MethodGet, "/products/999999", nil, http.StatusNotFound},
		{"unknown order", http.MethodGet, "/orders/999999", nil, http.StatusNotFound},
		{"pay unknown order", http.MethodPost, "/orders/999999/payments", map[string]any{"amount_cents": 100}, http.StatusNotFound},
		{"email taken", http.MethodPost, "/users", map[string]any{"name": "eve", "email": "ada@example.com"}, http.StatusConflict},
		{"id not a number", http.MethodGet, "/users/abc", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := call(t, tt.method, srv.URL+tt.path, tt.body, nil)
			require.Equal(t, tt.want, status, "%s %s: status, want %d (body: %s)", tt.method, tt.path, tt.want, raw)
			var body errorResponse
			require.NoError(t, json.Unmarshal(raw, &body), "%s %s: body %s is not an error object", tt.method, tt.path, raw)
			require.NotEmpty(t, body.Error, "%s %s: error message is empty", tt.method, tt.path)
		})
	}

	t.Run("internal errors do not leak", func(t *testing.T) {
		require.NoError(t, db.Close()) // every query now fails with "sql: database is closed"
		status, raw := call(t, http.MethodGet, srv.URL+"/users/1", nil, nil)
		require.Equal(t, http.StatusInternalServerError, status, "GET /users/1 with the database closed: status (body: %s)", raw)
		require.NotContains(t, string(raw), "sql:", "a 500 body must not show the internal error to the client")
	})
}
