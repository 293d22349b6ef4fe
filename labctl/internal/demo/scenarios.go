package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUnknownScenario means a scenario name or number that is not in Scenarios.
var ErrUnknownScenario = errors.New("unknown scenario")

// ErrScenario means a scenario saw the system do something other than what it shows (the report says what).
var ErrScenario = errors.New("scenario failed")

// Scenario is one scripted experiment.
type Scenario struct {
	Name, Title string
	Run         func(ctx context.Context, s *System, w io.Writer) error
}

// Scenarios are offered in this order (1, 2, 3, ...).
var Scenarios = []Scenario{
	{"checkout", "checkout: user, product, order, payment; its events on Kafka and its trace", runCheckout},
	{"slow-payment", "slow payment: the payment service answers 1.5 s late for one checkout", runSlowPayment},
	{"kill-order", "killed order instance: SIGKILL one of the two order processes under traffic", runKillOrder},
	{"kafka-down", "Kafka down: orders still succeed, the outbox holds the events until Kafka is back", runKafkaDown},
	{"unpaid-order", "unpaid order: the saga's compensation closes its payment, cancels it and puts its stock back", runUnpaidOrder},
}

// Find returns the scenario named name, or numbered name (1-based).
func Find(name string) (Scenario, error) {
	name = strings.TrimSpace(name)
	for i, sc := range Scenarios {
		if name == sc.Name || name == fmt.Sprint(i+1) {
			return sc, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w %q", ErrUnknownScenario, name)
}

// Checkout is what one checkout through the gateway observed.
type Checkout struct {
	UserID, ProductID, OrderID int64
	TotalCents                 int64
	Status                     string        // GET /orders/:id after paying
	TraceID                    string        // the trace the demo started (traceparent header)
	Place, Pay                 time.Duration // latency of POST /orders and POST /orders/:id/payments
}

// Checkout places and pays one order through the gateway.
func (s *System) Checkout(ctx context.Context) (*Checkout, error) {
	c := &Checkout{TraceID: randHex(16)}
	tp := "00-" + c.TraceID + "-" + randHex(8) + "-01"
	var u, p, o struct {
		ID         int64  `json:"id"`
		Status     string `json:"status"`
		TotalCents int64  `json:"total_cents"`
	}
	if _, err := s.call(ctx, tp, "POST", "/users", "", map[string]any{"name": "demo", "email": "demo-" + randHex(4) + "@example.com"}, http.StatusCreated, &u); err != nil {
		return nil, err
	}
	if _, err := s.call(ctx, tp, "POST", "/products", "", map[string]any{"name": "demo ink", "price_cents": 300, "stock": 1000}, http.StatusCreated, &p); err != nil {
		return nil, err
	}
	c.UserID, c.ProductID = u.ID, p.ID
	var err error
	if c.Place, err = s.call(ctx, tp, "POST", "/orders", "demo-"+randHex(8),
		map[string]any{"user_id": u.ID, "items": []map[string]any{{"product_id": p.ID, "quantity": 2}}}, http.StatusCreated, &o); err != nil {
		return nil, err
	}
	c.OrderID, c.TotalCents = o.ID, o.TotalCents
	if c.Pay, err = s.call(ctx, tp, "POST", fmt.Sprintf("/orders/%d/payments", o.ID), "", map[string]any{"amount_cents": o.TotalCents}, http.StatusCreated, nil); err != nil {
		return c, err
	}
	if _, err := s.call(ctx, tp, "GET", fmt.Sprintf("/orders/%d", o.ID), "", nil, http.StatusOK, &o); err != nil {
		return c, err
	}
	c.Status = o.Status
	return c, nil
}

// StatusError is a gateway answer with an unexpected status.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s = %d %s", e.Method, e.Path, e.Code, strings.TrimSpace(e.Body))
}

// call sends one JSON request to the gateway and decodes the answer into out; it returns the latency.
func (s *System) call(ctx context.Context, traceparent, method, path, idemKey string, in any, wantCode int, out any) (time.Duration, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.GatewayURL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	t := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	d := time.Since(t)
	if resp.StatusCode != wantCode {
		return d, &StatusError{method, path, resp.StatusCode, string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return d, fmt.Errorf("%s %s: decode %q: %w", method, path, b, err)
		}
	}
	return d, nil
}

// Event is an order event read back from Kafka.
type Event struct {
	Type    string `json:"type"`
	OrderID int64  `json:"order_id"`
}

// Events reads the topic from its start until every order in want has all the types in types, or ctx ends.
func (s *System) Events(ctx context.Context, orders []int64, types ...string) (map[int64][]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.ConsumeTopics(s.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	got := map[int64][]string{}
	done := func() bool {
		for _, id := range orders {
			for _, t := range types {
				if !slices.Contains(got[id], t) {
					return false
				}
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return got, fmt.Errorf("read %s: %w", s.Topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			var e Event
			if json.Unmarshal(r.Value, &e) == nil && slices.Contains(orders, e.OrderID) {
				got[e.OrderID] = append(got[e.OrderID], e.Type)
			}
		})
	}
	return got, nil
}

func runCheckout(ctx context.Context, s *System, w io.Writer) error {
	fmt.Fprintln(w, "What it does: POST /users, POST /products, POST /orders (Idempotency-Key), POST /orders/:id/payments, GET /orders/:id,")
	fmt.Fprintln(w, "all through the gateway with one traceparent, then reads the order's events back from Kafka.")
	c, err := s.Checkout(ctx)
	if err != nil {
		return fmt.Errorf("%w: checkout: %w", ErrScenario, err)
	}
	fmt.Fprintf(w, "Observed: user %d, product %d, order %d (total %d cents): placed in %v, paid in %v, status %q\n",
		c.UserID, c.ProductID, c.OrderID, c.TotalCents, ms(c.Place), ms(c.Pay), c.Status)
	if err := s.observeEvents(ctx, w, c.OrderID, "OrderPlaced", "OrderPaid"); err != nil {
		return err
	}
	s.watchTrace(w, c.TraceID, "one trace for the whole checkout: the gateway span POST /orders/:id/payments, under it order PayOrder, under that payment Charge")
	if c.Status != "paid" {
		return fmt.Errorf("%w: order %d is %q after paying, want paid", ErrScenario, c.OrderID, c.Status)
	}
	return nil
}

// observeEvents reads the topic (20 s at most) until order id's events of these types arrived, and prints
// what it saw.
func (s *System) observeEvents(ctx context.Context, w io.Writer, id int64, types ...string) error {
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ev, err := s.Events(ectx, []int64{id}, types...)
	fmt.Fprintf(w, "Observed on Kafka topic %s: %v for order %d\n", s.Topic, ev[id], id)
	if err != nil {
		return fmt.Errorf("%w: the order's events did not all arrive: %w", ErrScenario, err)
	}
	return nil
}

func (s *System) watchTrace(w io.Writer, traceID, what string) {
	if s.JaegerUI == "" {
		fmt.Fprintf(w, "Trace id %s (no Jaeger runs: `go run ./labctl infra install jaeger` gives one)\n", traceID)
		return
	}
	fmt.Fprintf(w, "Watch in Jaeger: %s/trace/%s  (%s)\n", s.JaegerUI, traceID, what)
}

func runSlowPayment(ctx context.Context, s *System, w io.Writer) error {
	const delay = 1500 * time.Millisecond
	fmt.Fprintf(w, "What it does: a checkout as it is, then POST %s?delay=%v (every call the payment process answers waits first), a checkout, then the fault is cleared.\n", s.AdminURL, delay)
	before, err := s.Checkout(ctx)
	if err != nil {
		return fmt.Errorf("%w: checkout before the fault: %w", ErrScenario, err)
	}
	if err := s.fault(ctx, http.MethodPost, "?delay="+delay.String()); err != nil {
		return err
	}
	defer func() {
		if err := s.fault(context.WithoutCancel(ctx), http.MethodDelete, ""); err != nil {
			fmt.Fprintf(w, "clearing the fault failed: %v\n", err)
		} else {
			fmt.Fprintln(w, "Fault cleared: the payment service answers at once again.")
		}
	}()
	slow, err := s.Checkout(ctx)
	if err != nil {
		return fmt.Errorf("%w: checkout with a slow payment service: %w", ErrScenario, err)
	}
	fmt.Fprintf(w, "Observed: POST /orders/:id/payments took %v before, %v with the fault (placing the order: %v, then %v; it never calls payment)\n",
		ms(before.Pay), ms(slow.Pay), ms(before.Place), ms(slow.Place))
	s.watchTrace(w, slow.TraceID, "the slow span is payment's server span capstone.payment.v1.PaymentService/Charge; order's PayOrder waits on it, the gateway's POST /orders/:id/payments waits on order")
	if s.Scraped {
		fmt.Fprintf(w, "Watch in Prometheus: %s/graph?g0.expr=%s\n", s.PrometheusURL, url.QueryEscape(`histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="capstone-gateway"}[1m])))`))
	}
	if slow.Pay < delay {
		return fmt.Errorf("%w: paying took %v with a %v fault: the fault did not reach the payment service", ErrScenario, slow.Pay, delay)
	}
	return nil
}

// fault calls the payment process's admin endpoint.
func (s *System) fault(ctx context.Context, method, query string) error {
	req, err := http.NewRequestWithContext(ctx, method, s.AdminURL+query, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("admin endpoint: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s%s = %d", method, s.AdminURL, query, resp.StatusCode)
	}
	return nil
}

// KillReport is what the killed-order scenario observed.
type KillReport struct {
	Sent, Failed     int
	LastFailure      time.Duration // after the kill; 0 when none failed
	CriticalAfter    time.Duration // when Consul showed only one passing order instance; 0 if never
	RestartedHealthy time.Duration // from the restart to two passing instances again
}

// KillOrder SIGKILLs order-1 while reads go through the gateway, watches Consul, and restarts it.
func (s *System) KillOrder(ctx context.Context) (*KillReport, error) {
	c, err := s.Checkout(ctx)
	if err != nil {
		return nil, err
	}
	victim := s.Part("order-1")
	r := &KillReport{}
	s.Kill(victim)
	killed := time.Now()
	quiet := 3 * time.Second // after Consul marks it critical, keep going this long to see traffic settle
	for time.Since(killed) < 30*time.Second {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		r.Sent++
		if _, err := s.call(ctx, "", "GET", fmt.Sprintf("/orders/%d", c.OrderID), "", nil, http.StatusOK, nil); err != nil {
			r.Failed++
			r.LastFailure = time.Since(killed)
		}
		if r.CriticalAfter == 0 {
			if h, err := s.Check(ctx); err == nil && h.Passing["order"] == 1 {
				r.CriticalAfter = time.Since(killed)
			}
		} else if time.Since(killed) > r.CriticalAfter+quiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Restart(victim); err != nil {
		return r, err
	}
	t := time.Now()
	if err := s.WaitHealthy(ctx, 60*time.Second); err != nil {
		return r, err
	}
	r.RestartedHealthy = time.Since(t)
	return r, nil
}

func runKillOrder(ctx context.Context, s *System, w io.Writer) error {
	v := s.Part("order-1")
	fmt.Fprintf(w, "What it does: SIGKILL order-1 (pid %d: no goodbye, it stays in Consul until its gRPC health check fails), keep sending GET /orders/:id through the gateway, then restart it.\n", v.PID)
	fmt.Fprintf(w, "Watch: Consul UI http://%s/ui/dc1/services/%sorder/instances (one instance turns critical)\n", s.ConsulAddr, s.Prefix)
	r, err := s.KillOrder(ctx)
	if r != nil {
		crit := "never, within 30 s"
		if r.CriticalAfter > 0 {
			crit = ms(r.CriticalAfter).String() + " after the kill"
		}
		last := "none failed"
		if r.Failed > 0 {
			last = "the last " + ms(r.LastFailure).String() + " after the kill"
		}
		fmt.Fprintf(w, "Observed: %d requests, %d failed (%s); Consul showed one passing order instance %s.\n",
			r.Sent, r.Failed, last, crit)
		if r.RestartedHealthy > 0 {
			fmt.Fprintf(w, "Observed: order-1 restarted as pid %d, two passing instances again after %v.\n", v.PID, ms(r.RestartedHealthy))
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if r.CriticalAfter == 0 {
		return fmt.Errorf("%w: Consul never marked the killed instance critical", ErrScenario)
	}
	return nil
}

// Backlog counts the order service's outbox rows not yet published.
func (s *System) Backlog(ctx context.Context) (int, error) {
	cfg, err := mysql.ParseDSN(s.MySQLDSN)
	if err != nil {
		return 0, fmt.Errorf("parse DSN: %w", err)
	}
	cfg.DBName = strings.ReplaceAll(s.Prefix, "-", "_") + "order"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox backlog: %w", err)
	}
	return n, nil
}

func runKafkaDown(ctx context.Context, s *System, w io.Writer) error {
	fmt.Fprintf(w, "What it does: stops the demo's own Kafka (kfake inside labctl, at %s: the only Kafka the demo may stop; a shared one is never touched),\n", s.Brokers[0])
	fmt.Fprintln(w, "places and pays 3 orders, reads the outbox backlog from MySQL, starts Kafka again at the same address and waits for the backlog to drain.")
	fmt.Fprintln(w, "Note: this Kafka keeps its data in memory, so after the restart the topic holds only what the relay publishes from then on.")
	s.stopKafka()
	var orders []int64
	for range 3 {
		c, err := s.Checkout(ctx)
		if err != nil {
			_ = s.startKafka()
			return fmt.Errorf("%w: a checkout failed while Kafka was down (the outbox should have kept it working): %w", ErrScenario, err)
		}
		orders = append(orders, c.OrderID)
	}
	n, err := s.Backlog(ctx)
	if err != nil {
		_ = s.startKafka()
		return err
	}
	fmt.Fprintf(w, "Observed: orders %v placed and paid with Kafka down; outbox backlog %d rows (SELECT COUNT(*) FROM outbox WHERE published_at IS NULL)\n", orders, n)
	if err := s.startKafka(); err != nil {
		return err
	}
	t := time.Now()
	for {
		if n, err = s.Backlog(ctx); err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Since(t) > 60*time.Second {
			return fmt.Errorf("%w: outbox backlog still %d rows 60 s after Kafka came back", ErrScenario, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	fmt.Fprintf(w, "Observed: Kafka back; the backlog drained to 0 in %v\n", ms(time.Since(t)))
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ev, err := s.Events(ectx, orders, "OrderPlaced", "OrderPaid")
	fmt.Fprintf(w, "Observed on %s: %v\n", s.Topic, ev)
	if err != nil {
		return fmt.Errorf("%w: the held events did not all arrive: %w", ErrScenario, err)
	}
	return nil
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func runUnpaidOrder(ctx context.Context, s *System, w io.Writer) error {
	fmt.Fprintf(w, "What it does: orders 2 of a product's 5 and does not pay. After %v (-pay-within) an order instance closes the\n", s.PayWithin)
	fmt.Fprintln(w, "order's payment at the payment service (关单), then cancels the order, puts the 2 back in stock and publishes")
	fmt.Fprintln(w, "OrderCancelled in one transaction. Paying it afterwards is refused.")
	var u, p, o struct {
		ID     int64  `json:"id"`
		Stock  int    `json:"stock"`
		Status string `json:"status"`
	}
	if _, err := s.call(ctx, "", "POST", "/users", "", map[string]any{"name": "demo", "email": "demo-" + randHex(4) + "@example.com"}, http.StatusCreated, &u); err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if _, err := s.call(ctx, "", "POST", "/products", "", map[string]any{"name": "demo lamp", "price_cents": 900, "stock": 5}, http.StatusCreated, &p); err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if _, err := s.call(ctx, "", "POST", "/orders", "", map[string]any{"user_id": u.ID, "items": []map[string]any{{"product_id": p.ID, "quantity": 2}}}, http.StatusCreated, &o); err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	placed := time.Now()
	productPath, orderPath := fmt.Sprintf("/products/%d", p.ID), fmt.Sprintf("/orders/%d", o.ID)
	if _, err := s.call(ctx, "", "GET", productPath, "", nil, http.StatusOK, &p); err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	fmt.Fprintf(w, "Observed: order %d placed, status %q; product %d stock %d\n", o.ID, o.Status, p.ID, p.Stock)
	fmt.Fprintf(w, "Waiting for the order to expire (up to %v)...\n", s.PayWithin+30*time.Second)
	deadline := placed.Add(s.PayWithin + 30*time.Second)
	for o.Status == "pending" {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: order %d still pending %v after it was placed (pay-within %v): see the order logs for \"expiring an unpaid order failed\"",
				ErrScenario, o.ID, time.Since(placed).Round(time.Second), s.PayWithin)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if _, err := s.call(ctx, "", "GET", orderPath, "", nil, http.StatusOK, &o); err != nil {
			return fmt.Errorf("%w: %w", ErrScenario, err)
		}
	}
	after := time.Since(placed)
	if _, err := s.call(ctx, "", "GET", productPath, "", nil, http.StatusOK, &p); err != nil {
		return fmt.Errorf("%w: %w", ErrScenario, err)
	}
	fmt.Fprintf(w, "Observed: order %d %s %v after it was placed; product %d stock %d\n", o.ID, o.Status, ms(after), p.ID, p.Stock)
	_, err := s.call(ctx, "", "POST", orderPath+"/payments", "", map[string]any{"amount_cents": 1800}, http.StatusConflict, nil)
	if err != nil {
		return fmt.Errorf("%w: paying the cancelled order: %w", ErrScenario, err)
	}
	fmt.Fprintf(w, "Observed: POST %s/payments = 409 (the order is cancelled)\n", orderPath)
	if err := s.observeEvents(ctx, w, o.ID, "OrderPlaced", "OrderCancelled"); err != nil {
		return err
	}
	if o.Status != "cancelled" || p.Stock != 5 {
		return fmt.Errorf("%w: order %d is %q with stock %d, want cancelled with stock 5", ErrScenario, o.ID, o.Status, p.Stock)
	}
	return nil
}
