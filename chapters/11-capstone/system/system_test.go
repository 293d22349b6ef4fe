package system

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/gomicrolab/microlab/chapters/01-monolith/acceptance"
	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/obs"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/outbox"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(infra.Main(m))
}

// env is one running capstone with handles on its parts, for the checks the HTTP API cannot make.
type env struct {
	sys      *System
	orderDB  *sql.DB // the order service's own database: outbox rows, triggers that make writes fail
	payments paymentv1.PaymentServiceClient
	brokers  []string
	topic    string
	lose     atomic.Int64 // an order id: its next Charge is done, and then its reply is lost
	failing  atomic.Int32 // triggers in place: the INTERNAL errors they cause are expected, not news
	userDown atomic.Int64 // a user id: the user service answers UNAVAILABLE for it, as when it is overloaded
	getUser  gate         // holds one GetUser at the user service
	charge   gate         // holds one Charge at the payment service

	mu          sync.Mutex
	chargeCalls map[int64]int // Charge requests that reached the payment service, by order id
}

// gate holds one chosen call at the service it reached, before it runs, until the test opens it: the test
// looks at the order database while the order service waits for the answer.
type gate struct {
	id      atomic.Int64 // the user id (GetUser) or order id (Charge) to hold; 0 holds nothing
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

// arm makes the next call for id wait.
func (g *gate) arm(t *testing.T, id int64) {
	g.arrived, g.open = make(chan struct{}), make(chan struct{})
	g.id.Store(id)
	t.Cleanup(g.release)
}

// hold is called by the server for every call; it waits if the call is the armed one.
func (g *gate) hold(ctx context.Context, id int64) {
	if id == 0 || !g.id.CompareAndSwap(id, 0) {
		return
	}
	close(g.arrived)
	select {
	case <-g.open:
	case <-ctx.Done():
	}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// reached waits (bounded) until the armed call arrived.
func (g *gate) reached(t *testing.T, what string) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(20 * time.Second):
		g.release()
		t.Fatalf("%s never reached its service within 20s", what)
	}
}

// start runs the whole system on loopback with infrastructure from infra; with may change its config.
func start(t *testing.T, with ...func(*Config)) *env {
	t.Helper()
	e := &env{chargeCalls: map[int64]int{}}
	consul := infra.Consul(t)
	kafka := infra.Kafka(t)
	orderDSN := infra.MySQL(t)
	e.brokers, e.topic = kafka.Brokers, kafka.TopicPrefix+"order-events"
	// A lost reply: the payment service took the money, but the caller hears UNAVAILABLE, as when the
	// connection drops after the payment service committed.
	lostReply := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*paymentv1.ChargeRequest); ok {
			e.mu.Lock()
			e.chargeCalls[r.GetOrderId()]++
			e.mu.Unlock()
			e.charge.hold(ctx, r.GetOrderId())
		}
		resp, err := handler(ctx, req)
		if r, ok := req.(*paymentv1.ChargeRequest); ok && err == nil && e.lose.CompareAndSwap(r.GetOrderId(), 0) {
			return nil, status.Error(codes.Unavailable, "test: the reply was lost on the way back")
		}
		return resp, err
	}
	userFaults := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*userv1.GetUserRequest); ok {
			if r.GetId() == e.userDown.Load() {
				return nil, status.Error(codes.Unavailable, "test: the user service is overloaded")
			}
			e.getUser.hold(ctx, r.GetId())
		}
		return handler(ctx, req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{
		UserDSN: infra.MySQL(t), OrderDSN: orderDSN, PaymentDSN: infra.MySQL(t),
		ConsulAddr: consul.Addr, Prefix: consul.Prefix, Brokers: kafka.Brokers, Topic: e.topic,
		GatewayAddr:    "127.0.0.1:0",
		PaymentOptions: []grpc.ServerOption{grpc.ChainUnaryInterceptor(lostReply)},
		UserOptions:    []grpc.ServerOption{grpc.ChainUnaryInterceptor(userFaults)},
		// What the client sees as a bare 500 is in the order service's log: show it right away, next to the
		// failure it causes. Every call comes before Stop returns, so before the test ends.
		OnInternal: func(_ context.Context, method string, err error) {
			if e.failing.Load() == 0 {
				t.Logf("the order service answered INTERNAL for %s: %v", method, err)
			}
		},
	}
	for _, w := range with {
		w(&cfg)
	}
	sys, err := Start(ctx, cfg)
	require.NoError(t, err, "system.Start")
	e.sys = sys
	t.Cleanup(func() {
		require.NoError(t, sys.Stop(), "system.Stop")
	})
	e.orderDB, err = sql.Open("mysql", orderDSN)
	require.NoError(t, err)
	t.Cleanup(func() { e.orderDB.Close() })
	conn, err := grpc.NewClient(sys.GRPC[PaymentService], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	e.payments = paymentv1.NewPaymentServiceClient(conn)
	return e
}

var client = &http.Client{Timeout: 20 * time.Second}

// do sends a JSON request to the gateway and decodes the answer into out (if not nil).
func (e *env) do(t *testing.T, method, path string, body any, header map[string]string, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.sys.GatewayURL+path, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(raw, out), "%s %s: status %d, body %s is not the expected JSON", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

type placed struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"`
	TotalCents int64  `json:"total_cents"`
}

// shop creates a user and a product through the gateway and returns their ids.
func (e *env) shop(t *testing.T, priceCents int64, stock int) (userID, productID int64) {
	t.Helper()
	var u, p struct {
		ID int64 `json:"id"`
	}
	email := fmt.Sprintf("checkout-%d@example.com", time.Now().UnixNano())
	require.Equal(t, http.StatusCreated, e.do(t, "POST", "/users", map[string]any{"name": "buyer", "email": email}, nil, &u), "POST /users")
	require.Equal(t, http.StatusCreated, e.do(t, "POST", "/products", map[string]any{"name": "widget", "price_cents": priceCents, "stock": stock}, nil, &p), "POST /products")
	return u.ID, p.ID
}

func (e *env) placeOrder(t *testing.T, userID, productID int64, qty int) placed {
	t.Helper()
	var o placed
	status := e.do(t, "POST", "/orders", map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": qty}}}, nil, &o)
	require.Equal(t, http.StatusCreated, status, "POST /orders: status")
	return o
}

func (e *env) orderStatus(t *testing.T, id int64) string {
	t.Helper()
	var o placed
	require.Equal(t, http.StatusOK, e.do(t, "GET", fmt.Sprintf("/orders/%d", id), nil, nil, &o), "GET /orders/%d", id)
	return o.Status
}

func (e *env) pay(t *testing.T, o placed, amount int64) int {
	t.Helper()
	return e.do(t, "POST", fmt.Sprintf("/orders/%d/payments", o.ID), map[string]any{"amount_cents": amount}, nil, nil)
}

// charges is the number of payments the payment service holds for an order: the money taken.
func (e *env) charges(t *testing.T, orderID int64) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.payments.ListPayments(ctx, &paymentv1.ListPaymentsRequest{OrderId: orderID})
	require.NoError(t, err, "PaymentService.ListPayments(order %d)", orderID)
	return len(resp.GetPayments())
}

// chargeCallsOf is the number of Charge requests the payment service received for an order, answered or not.
func (e *env) chargeCallsOf(orderID int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.chargeCalls[orderID]
}

// post sends a JSON POST to the gateway from any goroutine (no require: the caller checks the result).
func (e *env) post(path string, body any, header map[string]string) (int, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("POST", e.sys.GatewayURL+path, bytes.NewReader(buf))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// rowLock tries to lock one row of the order database without waiting: it fails at once if another
// transaction holds the row.
func (e *env) rowLock(table string, id int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := e.orderDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var got int64
	return tx.QueryRowContext(ctx, "SELECT id FROM "+table+" WHERE id = ? FOR UPDATE NOWAIT", id).Scan(&got)
}

// outboxEvents counts the outbox rows of one order, by event type.
func (e *env) outboxEvents(t *testing.T, orderID int64) map[string]int {
	t.Helper()
	rows, err := e.orderDB.Query("SELECT payload FROM outbox")
	require.NoError(t, err)
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var payload []byte
		require.NoError(t, rows.Scan(&payload))
		var ev struct {
			Type    string `json:"type"`
			OrderID int64  `json:"order_id"`
		}
		require.NoError(t, json.Unmarshal(payload, &ev), "outbox payload %s is not JSON", payload)
		if ev.OrderID == orderID {
			got[ev.Type]++
		}
	}
	require.NoError(t, rows.Err())
	return got
}

// failWrites makes the order database refuse a write until the returned func runs: a trigger that signals
// an error, as a full disk or a lost connection would in the middle of a transaction.
func (e *env) failWrites(t *testing.T, name, table, event, condition string) func() {
	t.Helper()
	_, err := e.orderDB.Exec(fmt.Sprintf(`CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW BEGIN
		IF %s THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: this write fails'; END IF; END`, name, event, table, condition))
	require.NoError(t, err, "create trigger %s", name)
	e.failing.Add(1)
	dropped := false
	drop := func() {
		if !dropped {
			dropped = true
			e.failing.Add(-1)
			_, err := e.orderDB.Exec("DROP TRIGGER " + name)
			require.NoError(t, err, "drop trigger %s", name)
		}
	}
	t.Cleanup(drop)
	return drop
}

// TestAcceptance runs chapter 01's black-box suite, unchanged, through the gateway.
func TestAcceptance(t *testing.T) {
	e := start(t)
	acceptance.Run(t, e.sys.GatewayURL)
}

// TestCheckoutEvents: a placed and paid order reaches Kafka as OrderPlaced and OrderPaid, through the outbox,
// once each even when the client repeats its idempotency key.
func TestCheckoutEvents(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 700, 3)
	key := map[string]string{"Idempotency-Key": fmt.Sprintf("events-%d", time.Now().UnixNano())}
	body := map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 2}}}
	var o, again placed
	require.Equal(t, http.StatusCreated, e.do(t, "POST", "/orders", body, key, &o), "POST /orders with a new key: status")
	require.Equal(t, http.StatusOK, e.do(t, "POST", "/orders", body, key, &again), "POST /orders repeating the key: status")
	require.Equal(t, o.ID, again.ID, "POST /orders repeating the key = order %d, want the first order %d", again.ID, o.ID)
	var payment struct {
		ID int64 `json:"id"`
	}
	require.Equal(t, http.StatusCreated, e.do(t, "POST", fmt.Sprintf("/orders/%d/payments", o.ID), map[string]any{"amount_cents": 1400}, nil, &payment),
		"POST /orders/%d/payments with the total: status", o.ID)

	require.Equal(t, map[string]int{"OrderPlaced": 1, "OrderPaid": 1}, e.outboxEvents(t, o.ID),
		"outbox rows of order %d by type, want one OrderPlaced and one OrderPaid: enqueue each event in the transaction of its change, and not again on a replayed key", o.ID)

	// The relay publishes them.
	seen := map[string]map[string]any{}
	for typ, r := range e.orderRecords(t, o.ID) {
		require.Equal(t, fmt.Sprint(o.ID), string(r.Key), "key of %s record: want the order id (one partition keeps an order's events in order)", typ)
		var ev map[string]any
		require.NoError(t, json.Unmarshal(r.Value, &ev), "%s record of order %d", typ, o.ID)
		seen[typ] = ev
	}
	// A consumer acts on the event alone (who bought, how much, which payment): every field is filled.
	for _, f := range []struct {
		event, field string
		want         int64
	}{
		{"OrderPlaced", "user_id", userID}, {"OrderPlaced", "total_cents", 1400},
		{"OrderPaid", "user_id", userID}, {"OrderPaid", "total_cents", 1400}, {"OrderPaid", "payment_id", payment.ID},
	} {
		require.Equal(t, float64(f.want), seen[f.event][f.field], "%s.%s of order %d = %v, want %d: fill the event from the order (and the payment)",
			f.event, f.field, o.ID, seen[f.event][f.field], f.want)
	}
}

// orderRecords reads the topic until order id's OrderPlaced and OrderPaid records arrived (20s at most) and
// returns them by type.
func (e *env) orderRecords(t *testing.T, id int64) map[string]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[string]*kgo.Record{}
	for len(seen) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var ev struct {
				Type    string `json:"type"`
				OrderID int64  `json:"order_id"`
			}
			if json.Unmarshal(r.Value, &ev) == nil && ev.OrderID == id {
				seen[ev.Type] = r
			}
		})
	}
	require.Contains(t, seen, "OrderPlaced", "no OrderPlaced event for order %d on %s within 20s", id, e.topic)
	require.Contains(t, seen, "OrderPaid", "no OrderPaid event for order %d on %s within 20s", id, e.topic)
	return seen
}

// TestCheckoutUnknownUser: the order service asks the user service, and an unknown user is a 404, not an
// order and not a 500.
func TestCheckoutUnknownUser(t *testing.T) {
	e := start(t)
	_, productID := e.shop(t, 100, 5)
	status := e.do(t, "POST", "/orders", map[string]any{"user_id": 987654321, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}, nil, nil)
	require.Equal(t, http.StatusNotFound, status,
		"POST /orders for an unknown user: status, want 404: ask the user service first, and answer its NOT_FOUND with domain.ErrUserNotFound (a plain error becomes a 500)")
	var p struct {
		Stock int `json:"stock"`
	}
	require.Equal(t, http.StatusOK, e.do(t, "GET", fmt.Sprintf("/products/%d", productID), nil, nil, &p))
	require.Equal(t, 5, p.Stock, "stock after an order for an unknown user, want it untouched")

	// A user service that cannot answer has not said "no such user": the client may retry, so 503, not 404.
	userID, _ := e.shop(t, 100, 1)
	e.userDown.Store(userID)
	status = e.do(t, "POST", "/orders", map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}, nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, status,
		"POST /orders while the user service answers UNAVAILABLE: status, want 503: only an answer NOT_FOUND (Exists = false, nil) is an unknown user; an error of Exists is passed on wrapped")
	require.Equal(t, http.StatusOK, e.do(t, "GET", fmt.Sprintf("/products/%d", productID), nil, nil, &p))
	require.Equal(t, 5, p.Stock, "stock after an order the user service could not confirm, want it untouched")
}

// TestCheckoutRefusedPaymentChargesNothing: a payment the order refuses (wrong amount, already paid) takes no
// money; the right one takes it once.
func TestCheckoutRefusedPaymentChargesNothing(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 999, 1)
	o := e.placeOrder(t, userID, productID, 1)

	require.Equal(t, http.StatusNotFound, e.pay(t, placed{ID: 987654321}, 999),
		"POST /orders/987654321/payments for an unknown order: status, want 404: pass the repository's error on (or wrap it with %%w), so the transport still sees domain.ErrOrderNotFound")

	require.Equal(t, http.StatusConflict, e.pay(t, o, 1), "POST /orders/%d/payments with 1 cent of 999: status", o.ID)
	require.Zero(t, e.charges(t, o.ID),
		"payments for order %d after a refused amount, want none: check the status and the amount before calling Charge (money taken cannot be un-taken by returning an error)", o.ID)
	require.Zero(t, e.chargeCallsOf(o.ID), "Charge calls for order %d after a refused amount, want none: refuse before calling the payment service", o.ID)

	require.Equal(t, http.StatusCreated, e.pay(t, o, 999), "POST /orders/%d/payments with the total: status", o.ID)
	require.Equal(t, "paid", e.orderStatus(t, o.ID), "order %d after its payment", o.ID)
	calls := e.chargeCallsOf(o.ID)
	require.Equal(t, http.StatusConflict, e.pay(t, o, 999), "POST /orders/%d/payments for a paid order: status", o.ID)
	require.Equal(t, 1, e.charges(t, o.ID), "payments for order %d after paying it and trying again", o.ID)
	require.Equal(t, calls, e.chargeCallsOf(o.ID),
		"Charge calls for order %d when paying it a second time = %d, want %d (no new call): refuse an order that is not pending before calling the payment service; the payment key is the last line of defence, not the check (keys expire, providers differ)",
		o.ID, e.chargeCallsOf(o.ID), calls)
}

// TestCheckoutNoLockAcrossCalls: while the order service waits for the user service or the payment service, it
// holds no row of its database. A remote call inside a transaction keeps the rows it locked for a network round
// trip: with a slow dependency, every other order of the same product waits behind it and the connection pool
// drains. The test holds each call at the service it reached and tries to lock the rows meanwhile.
func TestCheckoutNoLockAcrossCalls(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 400, 2)
	body := map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}

	e.getUser.arm(t, userID)
	done := make(chan error, 1)
	go func() {
		status, err := e.post("/orders", body, nil)
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("status %d, want 201", status)
		}
		done <- err
	}()
	e.getUser.reached(t, "GetUser of POST /orders")
	lockErr := e.rowLock("products", productID)
	e.getUser.release()
	require.NoError(t, <-done, "POST /orders")
	require.NoError(t, lockErr,
		"locking product %d while the order service waited for the user service: %v: ask the user service BEFORE s.Repo.InTx, never inside it (Reserve's row locks would be held for a network round trip)", productID, lockErr)

	o := e.placeOrder(t, userID, productID, 1)
	e.charge.arm(t, o.ID)
	go func() {
		status, err := e.post(fmt.Sprintf("/orders/%d/payments", o.ID), map[string]any{"amount_cents": 400}, nil)
		if err == nil && status != http.StatusCreated {
			err = fmt.Errorf("status %d, want 201", status)
		}
		done <- err
	}()
	e.charge.reached(t, "Charge of POST /orders/:id/payments")
	lockErr = e.rowLock("orders", o.ID)
	e.charge.release()
	require.NoError(t, <-done, "POST /orders/%d/payments", o.ID)
	require.NoError(t, lockErr,
		"locking order %d while the order service waited for the payment service: %v: call Charge BEFORE s.Repo.InTx, then MarkPaid and Enqueue in a short transaction (a rollback cannot un-charge a card, and the lock would be held for the whole charge)", o.ID, lockErr)
}

// TestCheckoutLostPaymentReply: the payment service charged, but its reply was lost. The order must stay
// pending (it is not known to be paid), and the client's retry must not take the money a second time.
// (This runs without 11-degrade's switch: a lost reply is the client's 503. With it, the same fault is a 202
// and a background retry with the same key: TestDegradeLostReply.)
func TestCheckoutLostPaymentReply(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 1250, 2)
	o := e.placeOrder(t, userID, productID, 2)

	e.lose.Store(o.ID)
	status := e.pay(t, o, 2500)
	require.Equal(t, http.StatusServiceUnavailable, status,
		"POST /orders/%d/payments when the payment service's reply is lost: status, want 503 (the client may retry)", o.ID)
	require.Equal(t, "pending", e.orderStatus(t, o.ID),
		"order %d after its charge failed: status, want pending: mark it paid only after Charge succeeded", o.ID)

	require.Equal(t, http.StatusCreated, e.pay(t, o, 2500), "POST /orders/%d/payments, the client's retry: status", o.ID)
	require.Equal(t, "paid", e.orderStatus(t, o.ID), "order %d after the retry", o.ID)
	require.Equal(t, 1, e.charges(t, o.ID),
		"payments for order %d after a lost reply and a retry, want 1: the retry must carry the same idempotency key (service.PaymentKey), or the customer pays twice", o.ID)
}

// TestCheckoutEventAtomicWithStatus: an order and its OrderPlaced event, "paid" and its OrderPaid event, commit
// together or not at all. The test makes each write fail in turn, as a crash between two transactions would.
func TestCheckoutEventAtomicWithStatus(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 300, 1)

	drop := e.failWrites(t, "fail_order_placed_event", "outbox", "INSERT", "NEW.payload LIKE '%OrderPlaced%'")
	status := e.do(t, "POST", "/orders", map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}, nil, nil)
	require.GreaterOrEqual(t, status, 500, "POST /orders while the outbox refuses writes: status, want 5xx")
	var p struct {
		Stock int `json:"stock"`
	}
	require.Equal(t, http.StatusOK, e.do(t, "GET", fmt.Sprintf("/products/%d", productID), nil, nil, &p))
	require.Equal(t, 1, p.Stock,
		"stock after an order whose OrderPlaced event could not be written, want 1 (untouched): Reserve, InsertOrder and Enqueue in ONE transaction, or the order exists and its event is lost for good")
	drop()
	o := e.placeOrder(t, userID, productID, 1)

	drop = e.failWrites(t, "fail_order_paid_event", "outbox", "INSERT", "NEW.payload LIKE '%OrderPaid%'")
	require.GreaterOrEqual(t, e.pay(t, o, 300), 500, "POST /orders/%d/payments while the outbox refuses writes: status, want 5xx", o.ID)
	require.Equal(t, "pending", e.orderStatus(t, o.ID),
		"order %d when its OrderPaid event could not be written: status, want pending: MarkPaid and Enqueue in ONE transaction, or the event is lost for good", o.ID)
	drop()

	drop = e.failWrites(t, "fail_mark_paid", "orders", "UPDATE", "NEW.status = 'paid'")
	require.GreaterOrEqual(t, e.pay(t, o, 300), 500, "POST /orders/%d/payments while orders refuses the update: status, want 5xx", o.ID)
	require.Zero(t, e.outboxEvents(t, o.ID)["OrderPaid"],
		"OrderPaid rows for order %d whose status update failed, want 0: an event in its own transaction announces a payment the order never recorded", o.ID)
	drop()

	require.Equal(t, http.StatusCreated, e.pay(t, o, 300), "POST /orders/%d/payments once the database works again: status", o.ID)
	require.Equal(t, 1, e.outboxEvents(t, o.ID)["OrderPaid"], "OrderPaid rows for order %d once paid", o.ID)
	require.Equal(t, 1, e.charges(t, o.ID), "payments for order %d after two failed attempts and a good one", o.ID)
}

// syncBuffer is a log sink that the test reads while the gateway writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCheckoutObservable: one checkout is one trace, from the gateway through the order service to the user and
// payment services; the gateway counts it in its RED metrics and logs it with its trace id. A call made with a
// context other than the request's loses its deadline and its trace, and shows up here as a trace of its own.
func TestCheckoutObservable(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	providers := map[string]*sdktrace.TracerProvider{}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	t.Cleanup(func() {
		for _, tp := range providers {
			_ = tp.Shutdown(context.Background())
		}
	})
	e := start(t, func(c *Config) {
		c.Tracer = func(service string) trace.TracerProvider {
			if providers[service] == nil {
				providers[service] = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
					sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", service))))
			}
			return providers[service]
		}
		c.Metrics = reg
		c.Logger = obs.NewLogger(&logs, zap.InfoLevel)
	})
	userID, productID := e.shop(t, 450, 2)
	o := e.placeOrder(t, userID, productID, 2)
	require.Equal(t, http.StatusCreated, e.pay(t, o, 900), "POST /orders/%d/payments with the total: status", o.ID)

	// Spans end just after their answers were sent, so wait for the last ones (bounded).
	find := func(name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
		var found sdktrace.ReadOnlySpan
		require.Eventually(t, func() bool {
			for _, s := range spans.Ended() {
				if s.Name() == name && s.SpanKind() == kind {
					found = s
				}
			}
			return found != nil
		}, 10*time.Second, 10*time.Millisecond, "no %v span %q was recorded", kind, name)
		return found
	}
	for _, hop := range []struct{ caller, callee string }{
		{"capstone.order.v1.OrderService/PlaceOrder", "capstone.user.v1.UserService/GetUser"},
		{"capstone.order.v1.OrderService/PayOrder", "capstone.payment.v1.PaymentService/Charge"},
	} {
		caller := find(hop.caller, trace.SpanKindServer)
		callee := find(hop.callee, trace.SpanKindServer)
		require.True(t, caller.Parent().IsRemote(), "%s has no remote parent: the gateway's trace did not reach the order service", hop.caller)
		require.Equal(t, caller.SpanContext().TraceID(), callee.SpanContext().TraceID(),
			"%s ran in trace %s, want the trace of %s (%s): call the other service with the request's ctx, which carries its trace and its deadline (not context.Background())",
			hop.callee, callee.SpanContext().TraceID(), hop.caller, caller.SpanContext().TraceID())
	}

	// The trace crosses Kafka: each event carries the trace context of the request that caused it (the outbox
	// keeps it in the row), so a consumer's spans join that request's trace.
	records := e.orderRecords(t, o.ID)
	for event, rpc := range map[string]string{"OrderPlaced": "PlaceOrder", "OrderPaid": "PayOrder"} {
		want := find("capstone.order.v1.OrderService/"+rpc, trace.SpanKindServer).SpanContext().TraceID()
		got := trace.SpanContextFromContext(outbox.RecordContext(context.Background(), records[event])).TraceID()
		require.Equal(t, want, got,
			"%s record of order %d carries trace %s (header %s), want the trace of its %s request %s: enqueue the event with the request's ctx, not context.Background()",
			event, o.ID, got, outbox.TraceHeader, rpc, want)
	}

	pay := find("capstone.order.v1.OrderService/PayOrder", trace.SpanKindServer).SpanContext().TraceID().String()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"trace_id":"`+pay+`"`) }, 10*time.Second, 10*time.Millisecond,
		"the gateway logged no line with trace_id %s (the payment's trace); its log:\n%s", pay, logs.String())

	resp, err := client.Get(e.sys.GatewayURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, series := range []string{
		`http_requests_total{code="201",method="POST",route="/orders"} 1`,
		`http_requests_total{code="201",method="POST",route="/orders/:id/payments"} 1`,
	} {
		require.Contains(t, string(body), series, "GET /metrics on the gateway: want the series %s", series)
	}
}

// TestCheckoutBoundedInput: what a client sends is bounded before it reaches a database column or a sum. A body
// too large, a value too long for its column, or a price and quantity whose total overflows int64 are the
// client's mistakes (4xx), never a 500 with MySQL's text, and never an order with a negative total.
func TestCheckoutBoundedInput(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 100, 5)
	item := func(qty int) []any { return []any{map[string]any{"product_id": productID, "quantity": qty}} }
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		header map[string]string
		want   int
	}{
		{"a price whose total overflows int64", "/products", map[string]any{"name": "gold", "price_cents": int64(1) << 62, "stock": 2}, nil, http.StatusBadRequest},
		{"a quantity in the billions", "/orders", map[string]any{"user_id": userID, "items": item(2_000_000_000)}, nil, http.StatusBadRequest},
		{"an idempotency key longer than its column", "/orders", map[string]any{"user_id": userID, "items": item(1)},
			map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, http.StatusBadRequest},
		{"a user name longer than its column", "/users", map[string]any{"name": strings.Repeat("n", 300), "email": "long-name@example.com"}, nil, http.StatusBadRequest},
		{"a product name longer than its column", "/products", map[string]any{"name": strings.Repeat("n", 300), "price_cents": 1, "stock": 1}, nil, http.StatusBadRequest},
		{"a body of 5 MB", "/users", map[string]any{"name": strings.Repeat("n", 5<<20), "email": "big@example.com"}, nil, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, e.do(t, "POST", tc.path, tc.body, tc.header, nil), "POST %s with %s: status", tc.path, tc.name)
		})
	}
}

// TestCheckoutConcurrentReplay: a client that retries before its first request answered sends one key twice at
// once. Both requests look the key up before either commits; the unique key lets one order in, and the other is
// told 409 (retry, and get the first order), never 500. The test makes the race certain: it holds the product's
// row lock until both requests wait for it, after their lookups.
func TestCheckoutConcurrentReplay(t *testing.T) {
	e := start(t)
	userID, productID := e.shop(t, 250, 5)
	body := map[string]any{"user_id": userID, "items": []any{map[string]any{"product_id": productID, "quantity": 1}}}
	key := map[string]string{"Idempotency-Key": fmt.Sprintf("concurrent-%d", time.Now().UnixNano())}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lock, err := e.orderDB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer lock.Rollback()
	var id int64
	require.NoError(t, lock.QueryRowContext(ctx, "SELECT id FROM products WHERE id = ? FOR UPDATE", productID).Scan(&id))

	statuses := make(chan int, 2)
	for range 2 {
		go func() {
			status, err := e.post("/orders", body, key)
			if err != nil {
				status = -1
			}
			statuses <- status
		}()
	}
	// InnoDB refreshes INNODB_TRX only when it was not read for 100 ms: poll slower than that.
	waiting := func() bool {
		var n int
		err := e.orderDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.INNODB_TRX t
			JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
			WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`).Scan(&n)
		return err == nil && n == 2
	}
	both := assert.Eventually(t, waiting, 4*time.Second, 250*time.Millisecond,
		"two POST /orders with one key never both waited for product %d's row lock (the test holds it, and a lock wait ends after 5s): reserve stock inside s.Repo.InTx, after the key's lookup", productID)
	require.NoError(t, lock.Rollback())
	got := []int{<-statuses, <-statuses}
	require.True(t, both)
	slices.Sort(got)
	require.Equal(t, []int{http.StatusCreated, http.StatusConflict}, got,
		"statuses of two POST /orders sent at once with one key, want 201 and 409: return the repository's error as it is (domain.ErrKeyInUse, 409: the client retries), not wrapped in a plain error (500)")

	var again placed
	require.Equal(t, http.StatusOK, e.do(t, "POST", "/orders", body, key, &again), "POST /orders repeating the key after the race: status")
	var p struct {
		Stock int `json:"stock"`
	}
	require.Equal(t, http.StatusOK, e.do(t, "GET", fmt.Sprintf("/products/%d", productID), nil, nil, &p))
	require.Equal(t, 4, p.Stock, "stock after two racing requests and a retry with one key, want 4: one order")
}
