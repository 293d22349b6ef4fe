package layers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/memstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
	"github.com/gomicrolab/microlab/chapters/02-layers/transport/httpapi"
)

// secret marks text that exists only inside the server: it is in every error the fake repositories
// return, as the SQL, addresses and other customers' data are in real ones.
const secret = "secret-7f3a"

// failingRepos are repositories that fail every call with err, behind a real in-memory store for the
// rest.
type failingRepos struct {
	*memstore.Store
	err error
}

func (r failingRepos) CreateUser(context.Context, user.User) (user.User, error) {
	return user.User{}, r.err
}
func (r failingRepos) GetUser(context.Context, int64) (user.User, error)     { return user.User{}, r.err }
func (r failingRepos) GetOrder(context.Context, int64) (*order.Order, error) { return nil, r.err }
func (r failingRepos) UpdateOrder(context.Context, int64, func(*order.Order) error) error {
	return r.err
}

type noPayments struct{}

func (noPayments) Charge(context.Context, int64, int64) (string, error) {
	return "", errors.New("not used")
}

// TestTransportErrors calls the HTTP API over repositories that fail the way real ones do, and checks
// what a client gets to read and what the operator gets to log.
func TestTransportErrors(t *testing.T) {
	gin.SetMode(gin.TestMode)
	tests := []struct {
		name, method, path, body string
		err                      error // what the repositories return
		status                   int
	}{
		{"taken email", http.MethodPost, "/users", `{"name":"ada","email":"ada@example.com"}`,
			fmt.Errorf("insert user ada@example.com [%s]: %w", secret, user.ErrEmailTaken), http.StatusConflict},
		{"conflict", http.MethodPost, "/users", `{"name":"ada","email":"ada@example.com"}`,
			fmt.Errorf("insert user: Error 1062 (23000): Duplicate entry 'ada@example.com' for key 'uq_users_email' [%s]: %w", secret, domain.ErrConflict), http.StatusConflict},
		{"not found", http.MethodGet, "/users/7", "",
			fmt.Errorf("get user 7 on 10.0.3.7:3306 [%s]: %w", secret, domain.ErrNotFound), http.StatusNotFound},
		{"illegal transition", http.MethodPost, "/orders/7/cancel", "",
			fmt.Errorf("cancel order 7 (paid) [%s]: %w", secret, order.ErrIllegalTransition), http.StatusConflict},
		{"out of stock", http.MethodGet, "/orders/7", "",
			fmt.Errorf("create order: product 12 [%s]: %w", secret, product.ErrOutOfStock), http.StatusConflict},
		{"invalid", http.MethodGet, "/orders/7", "",
			fmt.Errorf("order 7 from snapshot: total 5 [%s]: %w", secret, domain.ErrInvalid), http.StatusBadRequest},
		{"internal", http.MethodGet, "/orders/7", "",
			fmt.Errorf("get order 7: dial tcp 10.0.3.7:3306: connection refused [%s]", secret), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos := failingRepos{Store: memstore.New(), err: tt.err}
			svc, err := app.NewService(repos, repos, repos, noPayments{})
			require.NoError(t, err, "app.NewService")
			var logs bytes.Buffer
			h := httpapi.New(svc, slog.New(slog.NewTextHandler(&logs, nil)))

			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)

			require.Equal(t, tt.status, rec.Code, "%s %s when the repository fails with %q: status", tt.method, tt.path, tt.err)
			var body struct {
				Error string `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "%s %s: body %s is not the error JSON", tt.method, tt.path, rec.Body)
			require.NotEmpty(t, body.Error, "%s %s: body %s: say what went wrong, in words for the client", tt.method, tt.path, rec.Body)
			require.NotContains(t, rec.Body.String(), secret,
				"%s %s answered %d %s: internal error text reached the client (it may carry SQL, addresses, other customers' data); answer with a message written for clients", tt.method, tt.path, rec.Code, rec.Body)
			if tt.status == http.StatusInternalServerError {
				require.Contains(t, logs.String(), secret,
					"log after %s %s answered 500 = %q, want the error: a 500 that nobody logs cannot be investigated", tt.method, tt.path, logs.String())
				require.Contains(t, logs.String(), "/orders/", "log after %s %s answered 500 = %q, want the route", tt.method, tt.path, logs.String())
			}
		})
	}
}

// endlessBody is a request body of size bytes (`{"name":"xxx…`) that counts how much the server read.
type endlessBody struct {
	size, read int
}

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	n := min(len(p), b.size-b.read)
	for i := range n {
		p[i] = 'x'
		if b.read+i < len(`{"name":"`) {
			p[i] = `{"name":"`[b.read+i]
		}
	}
	b.read += n
	return n, nil
}

// TestTransportRefusesHugeBodies: every body of this API is small. A server that reads whatever a
// client sends can be made to hold gigabytes in memory by one request.
func TestTransportRefusesHugeBodies(t *testing.T) {
	gin.SetMode(gin.TestMode)
	store := memstore.New()
	svc, err := app.NewService(store, store, store, noPayments{})
	require.NoError(t, err, "app.NewService")
	h := httpapi.New(svc, slog.New(slog.NewTextHandler(io.Discard, nil)))

	body := &endlessBody{size: 64 << 20}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/users", body)
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)

	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "POST /users with a 64 MiB body: status, want 413 (body %s)", rec.Body)
	require.Less(t, body.read, 8<<20,
		"POST /users with a 64 MiB body: the server read %d bytes of it; bound the body (http.MaxBytesReader) so that one client cannot fill the server's memory", body.read)
	require.NotContains(t, rec.Body.String(), "http:", "POST /users with a 64 MiB body answered %s: internal error text reached the client", rec.Body)
}
