package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
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
		// `required` on a number only means "not zero": negative ids, amounts and quantities need min=1.
		{"product: negative price", "/products", map[string]any{"name": "pen", "price_cents": -5, "stock": 1}, []string{"price_cents"}},
		{"order: negative ids", "/orders", map[string]any{"user_id": -1, "items": []any{
			map[string]any{"product_id": -2, "quantity": 1},
		}}, []string{"items[0].product_id", "user_id"}},
		{"order: negative quantity", "/orders", map[string]any{"user_id": 1, "items": []any{
			map[string]any{"product_id": 1, "quantity": -3},
		}}, []string{"items[0].quantity"}},
		{"payment: negative amount", "/orders/1/payments", map[string]any{"amount_cents": -100}, []string{"amount_cents"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, raw, err := sendFull(http.MethodPost, srv.URL+tt.path, tt.body, nil)
			require.NoError(t, err, "POST %s", tt.path)
			require.Equal(t, http.StatusBadRequest, status, "POST %s %v: status, want 400 (body: %s)", tt.path, tt.body, raw)
			body := requireJSONError(t, "POST "+tt.path, status, ctype, raw)
			got := slices.Sorted(maps.Keys(body.Fields))
			require.Equal(t, tt.wantFields, got,
				"POST %s %v: fields = %v, want the JSON paths %v: the client must learn which fields to fix (body: %s)", tt.path, tt.body, got, tt.wantFields, raw)
			for f, msg := range body.Fields {
				require.NotEmpty(t, msg, "field %q has an empty message", f)
			}
		})
	}
}

// TestAPIFieldMessagesSayWhatToFix checks the words of a min rule: "at least 1" means "add an item" on a
// list and "a bigger number" on a number, and the client reads only the message.
func TestAPIFieldMessagesSayWhatToFix(t *testing.T) {
	srv, _, _ := newServer(t)
	status, ctype, raw, err := sendFull(http.MethodPost, srv.URL+"/orders",
		map[string]any{"user_id": 0, "items": []any{}}, nil)
	require.NoError(t, err, "POST /orders")
	require.Equal(t, http.StatusBadRequest, status, "POST /orders {user_id: 0, items: []}: status, want 400 (body: %s)", raw)
	body := requireJSONError(t, "POST /orders", status, ctype, raw)

	items, userID := body.Fields["items"], body.Fields["user_id"]
	require.Contains(t, items, "at least 1 element",
		"POST /orders {items: []}: fields[items] = %q, want \"must have at least 1 element(s)\": min on a list counts its elements (fe.Kind() is a slice), not a number's value (body: %s)", items, raw)
	require.Contains(t, userID, "at least 1",
		"POST /orders {user_id: 0}: fields[user_id] = %q, want \"must be at least 1\": min on a number bounds its value (body: %s)", userID, raw)
	require.NotContains(t, userID, "element",
		"POST /orders {user_id: 0}: fields[user_id] = %q, want \"must be at least 1\": a number has no elements; only a list's min counts them (body: %s)", userID, raw)
}

// TestAPIAcceptsBoundaryValues checks the other side of the rules: values at the limit are valid.
func TestAPIAcceptsBoundaryValues(t *testing.T) {
	srv, _, _ := newServer(t)
	tests := []struct {
		name string
		path string
		body map[string]any
	}{
		// A product that is announced before it arrives has no stock yet.
		{"product with stock 0", "/products", map[string]any{"name": "coming soon", "price_cents": 1, "stock": 0}},
		{"product name of 100 characters", "/products", map[string]any{"name": strings.Repeat("p", 100), "price_cents": 1, "stock": 1}},
		{"user name of 100 characters", "/users", map[string]any{"name": strings.Repeat("a", 100), "email": "long@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := call(t, http.MethodPost, srv.URL+tt.path, tt.body, nil)
			require.Equal(t, http.StatusCreated, status, "POST %s %v: status, want 201: this value is valid (body: %s)", tt.path, tt.body, raw)
			var got map[string]any
			require.NoError(t, json.Unmarshal(raw, &got), "POST %s: body %s", tt.path, raw)
			for k, v := range tt.body {
				require.EqualValues(t, v, got[k], "POST %s: %s in the answer", tt.path, k)
			}
		})
	}
}

// TestAPIEvery400IsJSON covers the 400s that do not come from a validation rule.
func TestAPIEvery400IsJSON(t *testing.T) {
	srv, _, _ := newServer(t)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header map[string]string
	}{
		{"broken JSON", http.MethodPost, "/users", `{"name":`, nil},
		{"no body at all", http.MethodPost, "/products", "", nil},
		{"a JSON array, not an object", http.MethodPost, "/orders", `[1, 2]`, nil},
		{"id not a number", http.MethodGet, "/users/abc", nil, nil},
		{"id zero", http.MethodGet, "/orders/0", nil, nil},
		{"Idempotency-Key too long", http.MethodPost, "/orders", map[string]any{"user_id": 1, "items": []any{map[string]any{"product_id": 1, "quantity": 1}}},
			map[string]string{IdempotencyKeyHeader: strings.Repeat("k", 65)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, raw, err := sendFull(tt.method, srv.URL+tt.path, tt.body, tt.header)
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, status, "%s %s (%s): status, want 400 (body: %s)", tt.method, tt.path, tt.name, raw)
			requireJSONError(t, tt.method+" "+tt.path+" ("+tt.name+")", status, ctype, raw)
		})
	}
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
		{"key reused, wrapped", fmt.Errorf("place order: key %q: %w", "k1", shop.ErrKeyReused), http.StatusUnprocessableEntity},
		{"anything else", errors.New("dial tcp 10.0.0.1:3306: connection refused"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, statusOf(tt.err), "statusOf(%v)", tt.err)
		})
	}
}

// TestAPIErrorsHideInternals sends store errors, wrapped the way a store wraps them, through writeError and
// the router's middleware: the client gets the status and a short message, the log gets a 500's cause.
func TestAPIErrorsHideInternals(t *testing.T) {
	const internal = "pay order 7: SELECT total_cents FROM orders WHERE id = 7 on 10.0.0.7:3306"
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"not found", fmt.Errorf("%s: %w", internal, shop.ErrNotFound), http.StatusNotFound},
		{"conflict", fmt.Errorf("%s: %w", internal, shop.ErrConflict), http.StatusConflict},
		{"out of stock", fmt.Errorf("%s: %w", internal, shop.ErrOutOfStock), http.StatusConflict},
		{"invalid", fmt.Errorf("%s: %w", internal, shop.ErrInvalid), http.StatusBadRequest},
		{"key reused", fmt.Errorf("%s: %w", internal, shop.ErrKeyReused), http.StatusUnprocessableEntity},
		{"server fault", fmt.Errorf("%s: %w", internal, errors.New("driver: bad connection")), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			r := gin.New()
			r.Use(logErrors(slog.New(slog.NewTextHandler(logs, nil))))
			r.GET("/", func(c *gin.Context) { writeError(c, tt.err) })
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

			raw := rec.Body.Bytes()
			require.Equal(t, tt.status, rec.Code, "writeError(%v): status", tt.err)
			body := requireJSONError(t, "writeError("+tt.name+")", rec.Code, rec.Header().Get("Content-Type"), raw)
			for _, secret := range []string{"SELECT", "10.0.0.7", "pay order", "driver:"} {
				require.NotContains(t, body.Error, secret,
					"writeError(%v) answered %q: the client sees the store's internal error chain. Answer a fixed message for each kind of error; err.Error() is for the logs", tt.err, body.Error)
			}
			if tt.status == http.StatusInternalServerError {
				require.Contains(t, logs.String(), "driver: bad connection",
					"writeError(%v) answered 500 and the server logged %q: the cause of a 500 must reach the log (record it with c.Error(err)), or nobody can find out what broke", tt.err, logs.String())
			}
		})
	}
}

func TestAPIDomainErrorsOverHTTP(t *testing.T) {
	srv, store, db, logs := newLoggedServer(t)
	status, raw := call(t, http.MethodPost, srv.URL+"/users", map[string]any{"name": "ada", "email": "ada@example.com"}, nil)
	require.Equal(t, http.StatusCreated, status, "POST /users: status (body: %s)", raw)
	var ada shop.User
	require.NoError(t, json.Unmarshal(raw, &ada))
	gone, err := store.CreateProduct(t.Context(), "gone", 123, 0)
	require.NoError(t, err)
	pen, err := store.CreateProduct(t.Context(), "pen", 250, 5)
	require.NoError(t, err)
	o, _, err := store.PlaceOrder(t.Context(), shop.NewOrder{UserID: ada.ID, Items: []shop.Item{{ProductID: pen.ID, Quantity: 1}}})
	require.NoError(t, err)

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
		{"order an unknown product", http.MethodPost, "/orders", map[string]any{"user_id": ada.ID, "items": []any{map[string]any{"product_id": 999999, "quantity": 1}}}, http.StatusNotFound},
		{"email taken", http.MethodPost, "/users", map[string]any{"name": "eve", "email": "ada@example.com"}, http.StatusConflict},
		{"out of stock", http.MethodPost, "/orders", map[string]any{"user_id": ada.ID, "items": []any{map[string]any{"product_id": gone.ID, "quantity": 1}}}, http.StatusConflict},
		{"pay the wrong amount", http.MethodPost, fmt.Sprintf("/orders/%d/payments", o.ID), map[string]any{"amount_cents": 1}, http.StatusConflict},
	}
	// What the store puts in its errors: ids, the email, the amounts and the names of its operations.
	internals := []string{"999999", "ada@example.com", fmt.Sprint(o.TotalCents), "place order", "pay order", "create user", "get ", "product ", "wanted"}
	messages := map[string]string{} // test name -> the message the client got
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, raw, err := sendFull(tt.method, srv.URL+tt.path, tt.body, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, status, "%s %s: status, want %d (body: %s)", tt.method, tt.path, tt.want, raw)
			body := requireJSONError(t, tt.method+" "+tt.path, status, ctype, raw)
			messages[tt.name] = body.Error
			for _, s := range internals {
				require.NotContains(t, body.Error, s,
					"%s %s answered %q: that is the store's internal error chain. Answer a fixed message for each kind of error (\"not found\", \"out of stock\"); err.Error() is for the logs", tt.method, tt.path, body.Error)
			}
		})
	}

	// Both are 409, so only the message tells the client whether to buy less or to pay the right amount.
	require.NotEqual(t, messages["pay the wrong amount"], messages["out of stock"],
		"POST /orders out of stock answered %q, the same message as any other 409, want its own (\"out of stock\"): ErrOutOfStock wraps ErrConflict, so check it first", messages["out of stock"])

	t.Run("a 500 is logged, its cause is not shown", func(t *testing.T) {
		require.NoError(t, db.Close()) // every query now fails with "sql: database is closed"
		status, ctype, raw, err := sendFull(http.MethodGet, srv.URL+"/users/1", nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, status, "GET /users/1 with the database closed: status (body: %s)", raw)
		requireJSONError(t, "GET /users/1 with the database closed", status, ctype, raw)
		require.NotContains(t, string(raw), "sql:", "a 500 body must not show the internal error to the client")
		require.NotContains(t, string(raw), "closed", "a 500 body must not show the internal error to the client")
		require.Contains(t, logs.String(), "sql: database is closed",
			"GET /users/1 answered 500 and the server logged %q: the cause of a 500 must reach the server's log (c.Error(err) in writeError), or nobody can find out what broke", logs.String())
	})
}
