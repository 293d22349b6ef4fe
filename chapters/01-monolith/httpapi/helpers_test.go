package httpapi

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
	"github.com/gomicrolab/microlab/infra"
)

func init() { gin.SetMode(gin.TestMode) }

// newServer starts the API on a loopback port over a fresh, migrated database.
func newServer(t *testing.T) (*httptest.Server, *shop.Store, *sql.DB) {
	t.Helper()
	db, err := sql.Open("mysql", infra.MySQL(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, shop.Migrate(context.Background(), db))
	store := shop.NewStore(db)
	srv := httptest.NewServer(New(store))
	t.Cleanup(srv.Close)
	return srv, store, db
}

// call sends a JSON request and returns the status and the raw body.
func call(t *testing.T, method, url string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	status, raw, err := send(method, url, body, header)
	require.NoError(t, err, "%s %s", method, url)
	return status, raw
}

// send is call for goroutines, which must not stop the test themselves.
func send(method, url string, body any, header map[string]string) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// errorResponse is the shape of every error answer.
type errorResponse struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}
