package httpapi

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
	"github.com/gomicrolab/microlab/infra"
)

func init() { gin.SetMode(gin.TestMode) }

// newServer starts the API on a loopback port over a fresh, migrated database.
func newServer(t *testing.T) (*httptest.Server, *shop.Store, *sql.DB) {
	t.Helper()
	srv, store, db, _ := newLoggedServer(t)
	return srv, store, db
}

// newLoggedServer is newServer that also returns what the server logged.
func newLoggedServer(t *testing.T) (*httptest.Server, *shop.Store, *sql.DB, *logBuffer) {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	locktest.KillLeftoversAtCleanup(t, dsn)
	require.NoError(t, shop.Migrate(context.Background(), db))
	store := shop.NewStore(db)
	logs := &logBuffer{}
	srv := httptest.NewServer(New(store, slog.New(slog.NewTextHandler(logs, nil))))
	t.Cleanup(srv.Close)
	serverLogs.Store(srv.URL, logs)
	t.Cleanup(func() { serverLogs.Delete(srv.URL) })
	return srv, store, db, logs
}

// serverLogs maps a test server's URL to its log, so that a 500 can be explained wherever it shows up.
var serverLogs sync.Map

// explain500 logs what the server logged when it answered 500, with an explanation of a lock wait
// timeout or a deadlock among its causes.
func explain500(t *testing.T, baseURL string, status int) {
	t.Helper()
	if status != http.StatusInternalServerError {
		return
	}
	if logs, ok := serverLogs.Load(baseURL); ok {
		text := logs.(*logBuffer).String()
		t.Logf("the server answered 500; its log:\n%s%s", text, locktest.ExplainText(text))
	}
}

// logBuffer collects log lines from the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// call sends a JSON request and returns the status and the raw body.
func call(t *testing.T, method, url string, body any, header map[string]string) (int, []byte) {
	t.Helper()
	status, raw, err := send(method, url, body, header)
	require.NoError(t, err, "%s %s", method, url)
	explain500(t, baseOf(url), status)
	return status, raw
}

// requireJSONError checks that an error answer is a JSON error object, and returns it.
func requireJSONError(t *testing.T, what string, status int, contentType string, raw []byte) errorResponse {
	t.Helper()
	require.True(t, strings.HasPrefix(contentType, "application/json"),
		"%s: %d with Content-Type %q, want application/json: every error answer is a JSON object that clients can parse (body: %q)", what, status, contentType, raw)
	var body errorResponse
	require.NoError(t, json.Unmarshal(raw, &body), "%s: %d with body %q, want a JSON error object {\"error\": ...}", what, status, raw)
	require.NotEmpty(t, body.Error, "%s: %d with an empty \"error\" message (body: %s)", what, status, raw)
	return body
}

// send is call for goroutines, which must not stop the test themselves.
func send(method, url string, body any, header map[string]string) (int, []byte, error) {
	status, _, raw, err := sendFull(method, url, body, header)
	return status, raw, err
}

// sendFull is send that also returns the Content-Type of the answer.
func sendFull(method, url string, body any, header map[string]string) (int, string, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return 0, "", nil, err
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw, err
}

// errorResponse is the shape of every error answer.
type errorResponse struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

// baseOf returns the scheme and host of url, which is how serverLogs knows a server.
func baseOf(url string) string {
	scheme, rest, _ := strings.Cut(url, "://")
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}
