// Package shop is the chapter's small system: a payments service and an order service that also serves users.
// It is given, not an exercise: the exercises put timeouts, retries, breakers, limiters and bulkheads around
// its one risky call, the payment.
//
// The order service holds a small pool of database connections (Pool), shared by every endpoint, the way a
// real service shares its *sql.DB. The naive order path keeps its connection while it waits for payments, so
// when payments slow down the pool runs dry and /users, which never calls payments, waits too: the avalanche.
package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Payment statuses an order can end with.
const (
	StatusPaid    = "paid"            // the charge went through
	StatusPending = "pending_payment" // the fallback: accepted now, charged later by a background job
)

// Payments is the payment service: POST /charge?cents=N answers 200, or 402 when cents > Limit.
type Payments struct {
	Limit int64 // charges above this are declined (a 4xx); 0 means no limit
	calls atomic.Int64
}

// Calls is how many charge requests reached the payment service.
func (p *Payments) Calls() int64 { return p.calls.Load() }

func (p *Payments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	cents, _ := strconv.ParseInt(r.URL.Query().Get("cents"), 10, 64)
	if p.Limit > 0 && cents > p.Limit {
		http.Error(w, "declined", http.StatusPaymentRequired)
		return
	}
	_, _ = io.WriteString(w, `{"status":"paid"}`)
}

// StatusError is a non-2xx answer from a downstream service.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("payments answered %d", e.Code) }

// StatusCode is the HTTP status (breaker.StatusCoder).
func (e *StatusError) StatusCode() int { return e.Code }

// Charger calls the payment service over HTTP. It uses ctx as given: it sets no timeout of its own.
type Charger struct {
	URL    string // e.g. http://127.0.0.1:port
	Client *http.Client
}

// Charge asks payments to charge cents. A non-2xx answer is a *StatusError.
func (c *Charger) Charge(ctx context.Context, cents int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/charge?cents="+strconv.FormatInt(cents, 10), nil)
	if err != nil {
		return err
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// PayFunc charges for an order and says how the order ends: StatusPaid, or StatusPending for a fallback.
type PayFunc func(ctx context.Context, cents int64) (status string, err error)

// Naive is the order path before this chapter: it waits for payments as long as payments take.
func Naive(c *Charger) PayFunc {
	return func(ctx context.Context, cents int64) (string, error) {
		if err := c.Charge(ctx, cents); err != nil {
			return "", err
		}
		return StatusPaid, nil
	}
}

// App is the order service: POST /orders?cents=N and GET /users/{id}.
type App struct {
	Pool           chan struct{} // the shared "database connections"; make(chan struct{}, N)
	Pay            PayFunc
	RequestTimeout time.Duration // the service's own deadline for a request; 0 means none (the naive service)
	HoldPool       bool          // keep the connection while paying (the naive order path: payment inside the transaction)

	inflight atomic.Int64
	peak     atomic.Int64
}

// Inflight is how many requests the service is serving now: each holds a goroutine.
func (a *App) Inflight() int64 { return a.inflight.Load() }

// PeakInflight is the largest Inflight seen since the last ResetPeak.
func (a *App) PeakInflight() int64 { return a.peak.Load() }

// ResetPeak starts a new peak measurement.
func (a *App) ResetPeak() { a.peak.Store(a.inflight.Load()) }

func (a *App) acquire(ctx context.Context) error {
	select {
	case a.Pool <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a database connection: %w", ctx.Err())
	}
}

func (a *App) release() { <-a.Pool }

// Handler serves the order service's routes.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", a.user)
	mux.HandleFunc("POST /orders", a.order)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.inflight.Add(1)
		defer a.inflight.Add(-1)
		for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
		}
		if a.RequestTimeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), a.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		mux.ServeHTTP(w, r)
	})
}

func (a *App) user(w http.ResponseWriter, r *http.Request) {
	if err := a.acquire(r.Context()); err != nil {
		writeErr(w, err)
		return
	}
	defer a.release()
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "name": "ada"})
}

func (a *App) order(w http.ResponseWriter, r *http.Request) {
	cents, err := strconv.ParseInt(r.URL.Query().Get("cents"), 10, 64)
	if err != nil || cents <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "cents must be a positive integer"})
		return
	}
	ctx := r.Context()
	if err := a.acquire(ctx); err != nil { // insert the order row
		writeErr(w, err)
		return
	}
	if !a.HoldPool {
		a.release()
	}
	status, err := a.Pay(ctx, cents)
	if a.HoldPool {
		a.release()
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	code := http.StatusCreated
	if status == StatusPending {
		code = http.StatusAccepted
	}
	writeJSON(w, code, map[string]string{"status": status})
}

// writeErr maps errors to status codes without leaking their text.
func writeErr(w http.ResponseWriter, err error) {
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Code/100 == 4:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "payment declined"})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": "timed out"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
