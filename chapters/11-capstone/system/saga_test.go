package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order"
)

// The saga tests' expiry: an hour to pay, so that no order expires by the clock while a test runs; a test
// makes one order due by moving its created_at back (due), and the order service looks every 100ms.
var expiry = order.Expiry{PayWithin: time.Hour, Every: 100 * time.Millisecond}

// expireWithin bounds how long an expired order takes to leave "pending": one look (100ms) and a few local
// calls; 20s leaves a loaded machine a hundred times that.
const expireWithin = 20 * time.Second

// sagaEnv is the system with expiry switched on, as the saga tests see it: what the payment service was
// asked, and what the order service's expiry reported.
type sagaEnv struct {
	*env
	cfg Config // the config the system started with, for a second order instance

	closeDown atomic.Int64 // an order id: Close of its payment fails with UNAVAILABLE
	closing   gate         // holds one Close at the payment service, before it runs
	reply     gate         // holds the reply of one Charge, after the payment service committed it
	pair      atomic.Int64 // an order id: each Close of its payment waits until two have arrived (or 2s)
	paired    chan struct{}

	mu       sync.Mutex
	closes   map[int64]int      // Close calls that reached the payment service, by order id
	outcomes map[int64][]string // what ExpireOrder reported, by order id: a status, or "error: ..."
}

func startSaga(t *testing.T) *sagaEnv {
	t.Helper()
	s := &sagaEnv{closes: map[int64]int{}, outcomes: map[int64][]string{}, paired: make(chan struct{})}
	var arrivals atomic.Int32
	faults := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if r, ok := req.(*paymentv1.CloseRequest); ok {
			s.mu.Lock()
			s.closes[r.GetOrderId()]++
			s.mu.Unlock()
			if r.GetOrderId() == s.closeDown.Load() {
				return nil, status.Error(codes.Unavailable, "test: the payment service is down")
			}
			s.closing.hold(ctx, r.GetOrderId())
			// Well below the order service's 5s timeout on a call: an instance that waits for the other's
			// Close while holding what the other needs fails here, not after its own call gave up.
			if r.GetOrderId() == s.pair.Load() {
				if arrivals.Add(1) == 2 {
					close(s.paired)
				}
				select {
				case <-s.paired:
				case <-time.After(2 * time.Second):
				case <-ctx.Done():
				}
			}
		}
		resp, err := handler(ctx, req)
		if r, ok := req.(*paymentv1.ChargeRequest); ok && err == nil {
			s.reply.hold(ctx, r.GetOrderId())
		}
		return resp, err
	}
	s.env = start(t, func(c *Config) {
		x := expiry
		c.OrderExpiry = &x
		c.PaymentOptions = append(c.PaymentOptions, grpc.ChainUnaryInterceptor(faults))
		c.OnOrderExpired = func(id int64, st string, err error) {
			if err != nil {
				st = "error: " + err.Error()
			}
			s.mu.Lock()
			s.outcomes[id] = append(s.outcomes[id], st)
			s.mu.Unlock()
		}
		s.cfg = *c
	})
	return s
}

// due makes an order's time to pay run out: it looks placed two hours ago.
func (s *sagaEnv) due(t *testing.T, orderID int64) {
	t.Helper()
	_, err := s.orderDB.Exec("UPDATE orders SET created_at = created_at - INTERVAL 2 HOUR WHERE id = ?", orderID)
	require.NoError(t, err, "move order %d's created_at back", orderID)
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// noClose fails the test when order id's ExpireOrder ran 10 times (a second of looks) and never asked the
// payment service to close the payment: waiting longer would not change that.
func (s *sagaEnv) noClose(t *testing.T, id int64) {
	t.Helper()
	if out := s.outcomesOf(id); s.closesOf(id) == 0 && len(out) >= 10 {
		t.Fatalf("order %d's ExpireOrder ran %d times and never asked the payment service to Close its payment (the last outcome: %s): "+
			"close it with s.Closer.Close before the order changes", id, len(out), out[len(out)-1])
	}
}

func (s *sagaEnv) closesOf(orderID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closes[orderID]
}

func (s *sagaEnv) outcomesOf(orderID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.outcomes[orderID]...)
}

// settle waits until order id is no longer pending and returns its status. It gives up early when the
// order's ExpireOrder failed, or left the order pending, 10 times in a row (a second of looks) since settle
// began.
func (s *sagaEnv) settle(t *testing.T, id int64) string {
	t.Helper()
	deadline := time.Now().Add(expireWithin)
	before := len(s.outcomesOf(id))
	for {
		st := s.orderStatus(t, id)
		if st != "pending" {
			return st
		}
		// Ten looks in a row (a second) that failed, or that left the order pending: waiting longer changes nothing.
		out := s.outcomesOf(id)[before:]
		stuck := len(out) >= 10
		for _, o := range out[max(len(out)-10, 0):] {
			stuck = stuck && (strings.HasPrefix(o, "error: ") || o == "pending")
		}
		if stuck && out[len(out)-1] == "pending" {
			t.Fatalf("order %d stays pending after its time to pay ran out: its ExpireOrder returned it still pending, with no error, %d times in a row: "+
				"an expired order ends cancelled, or paid when Close answers that its money was taken", id, len(out))
		}
		if stuck {
			t.Fatalf("order %d stays pending after its time to pay ran out: its ExpireOrder failed %d times in a row, the last with %s",
				id, len(out), strings.TrimPrefix(out[len(out)-1], "error: "))
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %d is still pending %s after its time to pay ran out (what ExpireOrder reported: %q): "+
				"an expired order must end cancelled, or paid if its money was taken", id, expireWithin, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *sagaEnv) stock(t *testing.T, productID int64) int {
	t.Helper()
	var p struct {
		Stock int `json:"stock"`
	}
	require.Equal(t, http.StatusOK, s.do(t, "GET", fmt.Sprintf("/products/%d", productID), nil, nil, &p), "GET /products/%d", productID)
	return p.Stock
}

// event returns the payload of order id's only outbox row of type typ.
func (s *sagaEnv) event(t *testing.T, id int64, typ string) map[string]any {
	t.Helper()
	rows, err := s.orderDB.Query("SELECT payload FROM outbox")
	require.NoError(t, err)
	defer rows.Close()
	var found []map[string]any
	for rows.Next() {
		var payload []byte
		require.NoError(t, rows.Scan(&payload))
		var ev map[string]any
		require.NoError(t, json.Unmarshal(payload, &ev), "outbox payload %s is not JSON", payload)
		if ev["type"] == typ && ev["order_id"] == float64(id) {
			found = append(found, ev)
		}
	}
	require.NoError(t, rows.Err())
	require.Len(t, found, 1, "%s rows in the outbox for order %d", typ, id)
	return found[0]
}

// chargeDirect charges an order at the payment service itself, with the key the order service uses, as a Pay
// that crashed after its Charge would have.
func (s *sagaEnv) chargeDirect(t *testing.T, orderID, amount int64) (int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.payments.Charge(ctx, &paymentv1.ChargeRequest{OrderId: orderID, AmountCents: amount,
		IdempotencyKey: fmt.Sprintf("order-%d", orderID)})
	return resp.GetPayment().GetId(), err
}

// TestSagaUnpaidOrderExpires: an order not paid in time is cancelled, its stock is back on sale, OrderCancelled
// says so, and its payment is closed: paying it later takes no money, whichever way the charge arrives.
func TestSagaUnpaidOrderExpires(t *testing.T) {
	s := startSaga(t)
	userID, productID := s.shop(t, 500, 5)
	o := s.placeOrder(t, userID, productID, 2)
	other := s.placeOrder(t, userID, productID, 1) // still within its time
	require.Equal(t, 2, s.stock(t, productID), "stock after two orders of 2 and 1 out of 5")

	// While the payment service is asked to close the payment, the order service holds no lock: another
	// request for the order or its product must not wait for a remote call.
	s.closing.arm(t, o.ID)
	s.due(t, o.ID)
	s.closing.reached(t, fmt.Sprintf("the Close of order %d's payment (ExpireOrder must close it with s.Closer.Close)", o.ID))
	for _, row := range []struct {
		table string
		id    int64
	}{{"orders", o.ID}, {"products", productID}} {
		require.NoError(t, s.rowLock(row.table, row.id),
			"lock %s row %d while ExpireOrder waits for Close: it must be free: call Close before s.Repo.InTx, never inside it, "+
				"or every request for this order waits as long as the payment service takes to answer", row.table, row.id)
	}
	s.closing.release()
	require.Equal(t, "cancelled", s.settle(t, o.ID), "order %d after its time to pay ran out, unpaid: status", o.ID)
	require.Equal(t, 4, s.stock(t, productID),
		"stock after order %d (2 items) was cancelled, want 4: Release its items in the transaction that cancels it, or they are never sold again", o.ID)
	ev := s.event(t, o.ID, "OrderCancelled")
	require.Equal(t, map[string]any{"type": "OrderCancelled", "order_id": float64(o.ID), "user_id": float64(userID), "total_cents": float64(1000)}, ev,
		"OrderCancelled of order %d: fill it from the order, as OrderPlaced is, so a consumer knows whose order and how much", o.ID)
	require.Equal(t, map[string]int{"OrderPlaced": 1, "OrderCancelled": 1}, s.outboxEvents(t, o.ID),
		"outbox rows of order %d by type after it expired", o.ID)

	require.Equal(t, http.StatusConflict, s.pay(t, o, 1000), "POST /orders/%d/payments on the cancelled order: status", o.ID)
	_, err := s.chargeDirect(t, o.ID, 1000)
	require.Equal(t, codes.FailedPrecondition, status.Code(err),
		"PaymentService.Charge(order %d, key order-%d) after the order was cancelled: code = %v, want FailedPrecondition: "+
			"close the payment with service.PaymentKey(orderID), the key every Pay and every background retry uses, "+
			"or a charge already on its way takes the money of a cancelled order", o.ID, o.ID, status.Code(err))
	require.Zero(t, s.charges(t, o.ID), "payments of the cancelled order %d", o.ID)

	require.Equal(t, "pending", s.orderStatus(t, other.ID), "order %d, still within its time to pay: status", other.ID)
}

// TestSagaPaymentServiceUnreachable: not knowing whether the money was taken is not "unpaid". While the payment
// service cannot close the payment, the order stays as it is; once it can, the order is cancelled.
func TestSagaPaymentServiceUnreachable(t *testing.T) {
	s := startSaga(t)
	userID, productID := s.shop(t, 300, 3)
	o := s.placeOrder(t, userID, productID, 1)
	s.closeDown.Store(o.ID)
	s.due(t, o.ID)

	deadline := time.Now().Add(expireWithin)
	for s.closesOf(o.ID) < 3 {
		s.noClose(t, o.ID)
		if time.Now().After(deadline) {
			t.Fatalf("the payment service was asked to Close order %d's payment %d times in %s, want at least 3 (one per look, 100ms apart): "+
				"ExpireOrder must close the payment (s.Closer.Close) before it cancels, and try again on the next look when that fails (order status now %q)",
				o.ID, s.closesOf(o.ID), expireWithin, s.orderStatus(t, o.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "pending", s.orderStatus(t, o.ID),
		"order %d while its payment could not be closed: status, want pending: the charge may have landed, so cancelling now may keep the customer's money", o.ID)
	for _, out := range s.outcomesOf(o.ID) {
		require.True(t, strings.HasPrefix(out, "error: "),
			"ExpireOrder of order %d while Close failed reported %q, want an error: return Close's error (wrapped with %%w), so the failure is logged and counted, not hidden as an order that is simply still pending", o.ID, out)
	}
	require.Equal(t, 2, s.stock(t, productID), "stock while order %d could not be cancelled, want 2 (still reserved)", o.ID)
	require.Zero(t, s.outboxEvents(t, o.ID)["OrderCancelled"], "OrderCancelled rows of order %d while it is not cancelled", o.ID)

	s.closeDown.Store(0)
	require.Equal(t, "cancelled", s.settle(t, o.ID), "order %d once the payment service answers again: status", o.ID)
	require.Equal(t, 3, s.stock(t, productID), "stock after order %d was cancelled", o.ID)
}

// TestSagaMoneyTakenCompletesOrder: the payment service took the money, but the order service never recorded
// it (it crashed between Charge and MarkPaid). When the order's time runs out, the saga goes forward: the
// order is paid, with its OrderPaid event, and keeps its stock.
func TestSagaMoneyTakenCompletesOrder(t *testing.T) {
	s := startSaga(t)
	userID, productID := s.shop(t, 400, 2)
	o := s.placeOrder(t, userID, productID, 2)
	paymentID, err := s.chargeDirect(t, o.ID, 800)
	require.NoError(t, err, "PaymentService.Charge(order %d)", o.ID)
	s.due(t, o.ID)

	require.Equal(t, "paid", s.settle(t, o.ID),
		"order %d whose money was taken before its time ran out: status, want paid: Close answers closed = false with the payment, and then the order is marked paid, not cancelled", o.ID)
	require.Zero(t, s.stock(t, productID), "stock of a paid order's product, want 0: its items were sold")
	ev := s.event(t, o.ID, "OrderPaid")
	require.Equal(t, float64(paymentID), ev["payment_id"],
		"OrderPaid.payment_id of order %d = %v, want %d: the payment Close answered with", o.ID, ev["payment_id"], paymentID)
	require.Equal(t, map[string]int{"OrderPlaced": 1, "OrderPaid": 1}, s.outboxEvents(t, o.ID), "outbox rows of order %d by type", o.ID)
	require.Equal(t, 1, s.charges(t, o.ID), "payments of order %d", o.ID)
}

// TestSagaChargeRacesExpiry: a Pay is under way when the order's time runs out. Whoever wins at the payment
// service decides: a charge that committed first makes the order paid; a close that came first makes the charge
// fail. In no order of events is money taken for a cancelled order.
func TestSagaChargeRacesExpiry(t *testing.T) {
	for _, tc := range []struct {
		name       string
		committed  bool   // the Charge committed before the expiry (its reply is held), or is held before it runs
		wantStatus string // the order's status after the expiry
		wantPay    int    // what the held POST /orders/:id/payments answers in the end
		wantCharge int    // payments of the order in the end
		wantStock  int
	}{
		{name: "charge committed, reply on its way", committed: true, wantStatus: "paid", wantCharge: 1, wantStock: 0},
		{name: "charge not made yet", committed: false, wantStatus: "cancelled", wantPay: http.StatusConflict, wantCharge: 0, wantStock: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSaga(t)
			userID, productID := s.shop(t, 600, 1)
			o := s.placeOrder(t, userID, productID, 1)
			g := &s.charge // held before the payment service runs the Charge
			if tc.committed {
				g = &s.reply // held after it committed
			}
			g.arm(t, o.ID)
			paid := make(chan int, 1)
			go func() {
				code, err := s.post(fmt.Sprintf("/orders/%d/payments", o.ID), map[string]any{"amount_cents": 600}, nil)
				if err != nil {
					code = -1
				}
				paid <- code
			}()
			g.reached(t, fmt.Sprintf("the Charge of order %d", o.ID))
			s.due(t, o.ID)

			got := s.settle(t, o.ID)
			g.release()
			require.Equal(t, tc.wantStatus, got,
				"order %d expired while its Charge was held (%s): status: close the payment first, then decide from Close's answer; "+
					"an order cancelled first and closed second keeps money that landed in between", o.ID, tc.name)
			code := <-paid
			if tc.wantPay != 0 {
				require.Equal(t, tc.wantPay, code, "the held POST /orders/%d/payments, once the payment was closed: status", o.ID)
			}
			require.Less(t, code, 500, "the held POST /orders/%d/payments: status", o.ID)
			require.Equal(t, tc.wantCharge, s.charges(t, o.ID), "payments of order %d in the end", o.ID)
			require.Equal(t, tc.wantStock, s.stock(t, productID), "stock of the product of order %d (1 in stock, 1 ordered)", o.ID)
			require.Equal(t, tc.wantStatus, s.orderStatus(t, o.ID), "order %d once the Pay under way has answered: status", o.ID)
		})
	}
}

// TestSagaTwoInstances: every order service instance expires orders, with no leader. When two of them take
// the same order at the same moment, it is cancelled once: its stock is released once and OrderCancelled is
// published once.
func TestSagaTwoInstances(t *testing.T) {
	s := startSaga(t)
	second := s.cfg
	second.Parts = []string{OrderService}
	second.GRPCAddrs = nil
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sys2, err := Start(ctx, second)
	require.NoError(t, err, "start a second order service instance")
	t.Cleanup(func() { require.NoError(t, sys2.Stop(), "stop the second order service instance") })

	userID, productID := s.shop(t, 200, 4)
	o := s.placeOrder(t, userID, productID, 3)
	s.pair.Store(o.ID) // each Close of its payment waits for the other instance's
	s.due(t, o.ID)

	deadline := time.Now().Add(expireWithin)
	for !isClosed(s.paired) {
		s.noClose(t, o.ID)
		if time.Now().After(deadline) {
			t.Fatalf("only %d Close of order %d's payment reached the payment service in %s, want one from each of the two instances: "+
				"each instance's ExpireOrder closes the payment before it changes the order (order status now %q)",
				s.closesOf(o.ID), o.ID, expireWithin, s.orderStatus(t, o.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(expireWithin)
	for len(s.outcomesOf(o.ID)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ExpireOrder of order %d reported %q in %s, want an outcome from each of the two instances", o.ID, s.outcomesOf(o.ID), expireWithin)
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "cancelled", s.orderStatus(t, o.ID), "order %d after both instances expired it: status", o.ID)
	for _, out := range s.outcomesOf(o.ID) {
		require.Equal(t, "cancelled", out,
			"what ExpireOrder of order %d returned on each instance: the instance that lost the race is not failing: when Cancel says ErrNotPending, answer with the order as the other instance left it (s.Repo.Order)", o.ID)
	}
	require.Equal(t, 4, s.stock(t, productID),
		"stock after two instances cancelled order %d (3 of 4 items) at once, want 4: release the stock only in the transaction whose Cancel succeeded; "+
			"when Cancel fails with ErrNotPending the other instance did it, and this transaction must not commit a second release", o.ID)
	require.Equal(t, 1, s.outboxEvents(t, o.ID)["OrderCancelled"], "OrderCancelled rows of order %d after two instances expired it", o.ID)
}

// TestSagaCancelIsAtomic: the status, the stock and OrderCancelled change together or not at all. A write that
// fails halfway leaves the order pending with its stock, to be tried again; it never leaves a cancelled order
// whose stock is lost, or whose cancellation nobody hears of.
func TestSagaCancelIsAtomic(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		trigger, table, event string
		condition             string
	}{
		{"the OrderCancelled event cannot be written", "fail_order_cancelled_event", "outbox", "INSERT", "NEW.payload LIKE '%OrderCancelled%'"},
		{"the stock cannot be released", "fail_release", "products", "UPDATE", "NEW.stock > OLD.stock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSaga(t)
			userID, productID := s.shop(t, 700, 2)
			o := s.placeOrder(t, userID, productID, 2)
			drop := s.failWrites(t, tc.trigger, tc.table, tc.event, tc.condition)
			s.due(t, o.ID)

			deadline := time.Now().Add(expireWithin)
			for {
				out := s.outcomesOf(o.ID)
				if len(out) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no ExpireOrder of order %d finished within %s", o.ID, expireWithin)
				}
				time.Sleep(50 * time.Millisecond)
			}
			require.Equal(t, "pending", s.orderStatus(t, o.ID),
				"order %d when %s: status, want pending: Cancel, Release and Enqueue in ONE s.Repo.InTx, so a failure rolls all three back", o.ID, tc.name)
			require.Zero(t, s.stock(t, productID), "stock when %s, want 0 (still reserved by order %d)", tc.name, o.ID)
			require.Zero(t, s.outboxEvents(t, o.ID)["OrderCancelled"], "OrderCancelled rows of order %d when %s", o.ID, tc.name)

			drop()
			require.Equal(t, "cancelled", s.settle(t, o.ID), "order %d once the database works again: status", o.ID)
			require.Equal(t, 2, s.stock(t, productID), "stock after order %d was cancelled", o.ID)
			require.Equal(t, 1, s.outboxEvents(t, o.ID)["OrderCancelled"], "OrderCancelled rows of order %d once cancelled", o.ID)
		})
	}
}
