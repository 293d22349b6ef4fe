package system

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order"
)

// The degrade tests' settings: small, so that an outage, an open breaker and a recovery fit in seconds.
var degrade = order.Degrade{
	CallTimeout:     300 * time.Millisecond,
	BreakerFailures: 3,
	BreakerOpen:     2 * time.Second,
	RetryEvery:      50 * time.Millisecond,
}

// fastAnswer bounds a degraded answer. An outage is answered at once and a hung payment service after
// CallTimeout (300ms); 3s leaves a loaded machine ten times that, and is still well below the 5s that the
// order service's fallback timeout on every call (or the gateway's 10s) would take without a budget of its own.
const fastAnswer = 3 * time.Second

// recovery bounds how long a deferred payment takes once the payment service works again: at most one open
// window of the breaker (2s), then a retry every 50ms.
const recovery = 15 * time.Second

// Payment service faults, switched by the test.
const (
	healthy int32 = iota
	down          // every Charge fails with UNAVAILABLE, as when the service is overloaded or restarting
	hung          // every Charge waits until its caller gives up, as when the service's database is stuck
)

// payFaults is the payment service as the degrade tests see it: faults on demand, and a record of what
// reached it.
type payFaults struct {
	mode   atomic.Int32
	refuse atomic.Int64 // an order id the payment service refuses (FAILED_PRECONDITION), as a declined card
	calls  atomic.Int64 // every Charge that reached the service

	mu        sync.Mutex
	keys      map[int64][]string // the idempotency keys of Charge calls, by order
	deadlines []time.Duration    // how far away each hung Charge's deadline was when it arrived (-1: none)
}

func (f *payFaults) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	r, ok := req.(*paymentv1.ChargeRequest)
	if !ok {
		return handler(ctx, req)
	}
	f.calls.Add(1)
	f.mu.Lock()
	f.keys[r.GetOrderId()] = append(f.keys[r.GetOrderId()], r.GetIdempotencyKey())
	f.mu.Unlock()
	if r.GetOrderId() == f.refuse.Load() {
		return nil, status.Error(codes.FailedPrecondition, "test: the card was declined")
	}
	switch f.mode.Load() {
	case down:
		return nil, status.Error(codes.Unavailable, "test: the payment service is down")
	case hung:
		left := time.Duration(-1)
		if d, ok := ctx.Deadline(); ok {
			left = time.Until(d)
		}
		f.mu.Lock()
		f.deadlines = append(f.deadlines, left)
		f.mu.Unlock()
		<-ctx.Done() // the payment service's own shutdown also ends it
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return handler(ctx, req)
}

func (f *payFaults) keysOf(orderID int64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys[orderID]...)
}

// startDegraded runs the system with checkout's degradation switched on and the payment faults in place.
func startDegraded(t *testing.T, with ...func(*Config)) (*env, *payFaults) {
	t.Helper()
	f := &payFaults{keys: map[int64][]string{}}
	e := start(t, append([]func(*Config){func(c *Config) {
		d := degrade
		c.OrderDegrade = &d
		c.PaymentOptions = append(c.PaymentOptions, grpc.ChainUnaryInterceptor(f.intercept))
	}}, with...)...)
	return e, f
}

// traced records the spans of every part (in one recorder), as TestCheckoutObservable does.
func traced(t *testing.T, spans *tracetest.SpanRecorder) func(*Config) {
	providers := map[string]*sdktrace.TracerProvider{}
	t.Cleanup(func() {
		for _, tp := range providers {
			_ = tp.Shutdown(context.Background())
		}
	})
	return func(c *Config) {
		c.Tracer = func(service string) trace.TracerProvider {
			if providers[service] == nil {
				providers[service] = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			}
			return providers[service]
		}
	}
}

// timedPay pays an order through the gateway and says how long the answer took.
func (e *env) timedPay(t *testing.T, o placed, amount int64) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	status := e.pay(t, o, amount)
	took := time.Since(start)
	t.Logf("POST /orders/%d/payments: %d in %v", o.ID, status, took.Round(time.Millisecond))
	return status, took
}

// paidOnce waits until a deferred order is paid, then checks that the money was taken once, with the order's
// one key on every attempt, and that OrderPaid was recorded once.
func (e *env) paidOnce(t *testing.T, f *payFaults, o placed, why string) {
	t.Helper()
	require.Eventually(t, func() bool { return e.orderStatus(t, o.ID) == "paid" }, recovery, 20*time.Millisecond,
		"order %d (%s) was not paid within %v after the payment service recovered: keep retrying a deferred payment in the background while the payment service is unavailable, and let the breaker half-open after BreakerOpen (%v; gobreaker's own default is 60s)",
		o.ID, why, recovery, degrade.BreakerOpen)
	require.Equal(t, 1, e.charges(t, o.ID),
		"payments for order %d (%s) = %d, want 1: every attempt must carry the same idempotency key, service.PaymentKey(order), so an attempt whose reply was lost is not charged again",
		o.ID, why, e.charges(t, o.ID))
	want := fmt.Sprintf("order-%d", o.ID)
	for i, k := range f.keysOf(o.ID) {
		require.Equal(t, want, k, "idempotency key of Charge attempt %d for order %d (%s) = %q, want %q on every attempt (service.PaymentKey)", i+1, o.ID, why, k, want)
	}
	require.Equal(t, 1, e.outboxEvents(t, o.ID)["OrderPaid"],
		"OrderPaid rows for order %d (%s), want exactly 1: mark it paid and enqueue OrderPaid in one transaction, once, after the charge succeeded", o.ID, why)
}

// TestDegradeOutage: while the payment service is down, paying answers 202 at once and the order stays
// pending; the breaker opens, and the payment service hears nothing but a trial call per open window; once it
// is back, each deferred order is paid exactly once with its own key, and the breaker closes again.
func TestDegradeOutage(t *testing.T) {
	e, f := startDegraded(t)
	userID, productID := e.shop(t, 500, 5)
	a := e.placeOrder(t, userID, productID, 1)
	b := e.placeOrder(t, userID, productID, 2)

	f.mode.Store(down)
	t0 := time.Now()
	// Four payments in a row (each order paid twice, as an impatient client would): the first ones fail at the
	// payment service, and BreakerFailures (3) of them open the breaker; the last are answered by the breaker.
	for i, o := range []placed{a, a, b, b} {
		status, took := e.timedPay(t, o, o.TotalCents)
		require.Equal(t, http.StatusAccepted, status,
			"POST /orders/%d/payments (attempt %d) while the payment service is down (or the breaker open): status, want 202: an unavailable payment service (UNAVAILABLE, DEADLINE_EXCEEDED, breaker open) is degraded, not the client's 5xx", o.ID, i+1)
		require.Less(t, took, fastAnswer, "POST /orders/%d/payments while the payment service is down took %v, want < %v: answer at once", o.ID, took, fastAnswer)
		require.Equal(t, "pending", e.orderStatus(t, o.ID),
			"order %d after a 202 while the payment service is down: status, want pending: accepted is not paid; mark it paid (and enqueue OrderPaid) only after a charge succeeded", o.ID)
	}

	// The background retries run every 50ms. Count what reaches the payment service for a while: with the
	// breaker, 3 failures, then at most one trial call per open window (2s).
	window := 3 * time.Second
	time.Sleep(window - time.Since(t0))
	elapsed := time.Since(t0)
	calls := f.calls.Load()
	allowed := int64(degrade.BreakerFailures) + int64(elapsed/degrade.BreakerOpen) + 1
	require.LessOrEqual(t, calls, allowed,
		"Charge calls that reached the payment service in the %v of an outage = %d, want at most %d (%d failures open the breaker, then one trial per %v): wrap the payment client in a circuit breaker (熔断) so that an open breaker fails at once without calling",
		elapsed.Round(time.Millisecond), calls, allowed, degrade.BreakerFailures, degrade.BreakerOpen)
	for _, o := range []placed{a, b} {
		require.Equal(t, "pending", e.orderStatus(t, o.ID),
			"order %d during the outage: status, want pending: it is paid only once a charge succeeded", o.ID)
		require.Zero(t, e.outboxEvents(t, o.ID)["OrderPaid"], "OrderPaid rows for order %d during the outage, want 0: nothing was paid", o.ID)
	}

	f.mode.Store(healthy)
	e.paidOnce(t, f, a, "deferred during an outage")
	e.paidOnce(t, f, b, "deferred during an outage")
	require.Equal(t, http.StatusConflict, e.pay(t, a, a.TotalCents), "POST /orders/%d/payments once the deferred payment went through: status, want 409: an order that is not pending is refused as in 11-checkout, never degraded (degrade only domain.ErrUnavailable)", a.ID)

	// The breaker closed again: a new payment goes straight through.
	c := e.placeOrder(t, userID, productID, 1)
	status, _ := e.timedPay(t, c, c.TotalCents)
	require.Equal(t, http.StatusCreated, status, "POST /orders/%d/payments after the payment service recovered: status, want 201: a successful trial call closes the breaker", c.ID)
	require.Equal(t, 1, len(f.keysOf(c.ID)), "Charge calls for order %d after recovery, want 1", c.ID)
}

// TestDegradeSlowPayment: a payment service that hangs is cut off by the per-call budget, derived from the
// request, and the client gets 202, not a 504 after the fallback timeouts.
func TestDegradeSlowPayment(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	e, f := startDegraded(t, traced(t, spans))
	userID, productID := e.shop(t, 300, 2)
	o := e.placeOrder(t, userID, productID, 1)

	f.mode.Store(hung)
	status, took := e.timedPay(t, o, o.TotalCents)
	f.mu.Lock()
	deadlines := append([]time.Duration(nil), f.deadlines...)
	f.mu.Unlock()
	require.NotEmpty(t, deadlines, "no Charge reached the payment service for order %d", o.ID)
	// The deadline travels with the call (grpc-timeout): at arrival it is at most the budget, give or take
	// the encoding's rounding. Twice the budget still tells it apart from the fallback 5s.
	require.True(t, deadlines[0] > 0 && deadlines[0] <= 2*degrade.CallTimeout,
		"the first Charge reached the payment service with its deadline %v away (-1: none), want at most about CallTimeout (%v): give each Charge its own budget, context.WithTimeout(ctx, CallTimeout) on the request's ctx",
		deadlines[0], degrade.CallTimeout)
	require.Equal(t, http.StatusAccepted, status, "POST /orders/%d/payments while the payment service hangs: status, want 202: a Charge over its budget (DEADLINE_EXCEEDED) is degraded", o.ID)
	require.Less(t, took, fastAnswer, "POST /orders/%d/payments while the payment service hangs took %v, want < %v", o.ID, took, fastAnswer)
	require.Equal(t, "pending", e.orderStatus(t, o.ID), "order %d while the payment service hangs: status, want pending", o.ID)
	// The budget is derived from the request's ctx: the Charge is part of the payment request's trace (a ctx
	// made from context.Background() would also drop the request's cancellation).
	spanOf := func(name string) trace.SpanContext {
		var sc trace.SpanContext
		require.Eventually(t, func() bool {
			for _, s := range spans.Ended() {
				if s.Name() == name && s.SpanKind() == trace.SpanKindServer {
					sc = s.SpanContext()
					return true
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond, "no server span %q was recorded", name)
		return sc
	}
	pay, charge := spanOf("capstone.order.v1.OrderService/PayOrder"), spanOf("capstone.payment.v1.PaymentService/Charge")
	require.Equal(t, pay.TraceID(), charge.TraceID(),
		"the first Charge ran in trace %s, want the payment request's trace %s: derive its budget from the request's ctx, context.WithTimeout(ctx, CallTimeout), not from context.Background()",
		charge.TraceID(), pay.TraceID())

	f.mode.Store(healthy)
	e.paidOnce(t, f, o, "deferred while the payment service hung")
}

// TestDegradeLostReply: the payment service took the money but its reply was lost. That is an outage to the
// order service (202), and the background retry must find the first payment, not make a second one.
func TestDegradeLostReply(t *testing.T) {
	e, f := startDegraded(t)
	userID, productID := e.shop(t, 1250, 2)
	o := e.placeOrder(t, userID, productID, 2)

	e.lose.Store(o.ID)
	status, took := e.timedPay(t, o, 2500)
	require.Equal(t, http.StatusAccepted, status, "POST /orders/%d/payments when the payment service's reply is lost: status, want 202 (it looks like an outage)", o.ID)
	require.Less(t, took, fastAnswer, "POST /orders/%d/payments with a lost reply took %v, want < %v", o.ID, took, fastAnswer)
	e.paidOnce(t, f, o, "its first reply was lost")
}

// TestDegradeRefusal: a payment service that answers "no" is not down: the client hears it (4xx), nothing is
// retried, and the breaker stays closed for everyone else.
func TestDegradeRefusal(t *testing.T) {
	e, f := startDegraded(t)
	userID, productID := e.shop(t, 200, 5)
	o := e.placeOrder(t, userID, productID, 1)

	f.refuse.Store(o.ID)
	// More refusals than BreakerFailures: if they counted as failures, the breaker would now be open.
	for i := range int(degrade.BreakerFailures) + 1 {
		status := e.pay(t, o, o.TotalCents)
		require.Equal(t, http.StatusConflict, status,
			"POST /orders/%d/payments (attempt %d) when the payment service refuses it: status, want 409: a refusal (INVALID_ARGUMENT, FAILED_PRECONDITION) is an answer, not an outage; degrade only domain.ErrUnavailable", o.ID, i+1)
	}
	attempts := len(f.keysOf(o.ID))
	// A background retry would call every 50ms: give it twenty chances.
	time.Sleep(20 * degrade.RetryEvery)
	require.Equal(t, attempts, len(f.keysOf(o.ID)),
		"Charge calls for refused order %d = %d after the client stopped, want %d (one per request): a refusal is not retried (it would be refused again)", o.ID, len(f.keysOf(o.ID)), attempts)
	require.Equal(t, "pending", e.orderStatus(t, o.ID), "order %d after its payment was refused: status, want pending", o.ID)
	require.Zero(t, e.charges(t, o.ID), "payments for refused order %d, want none", o.ID)

	// The breaker is still closed: another order's payment goes through at once.
	other := e.placeOrder(t, userID, productID, 1)
	status := e.pay(t, other, other.TotalCents)
	require.Equal(t, http.StatusCreated, status,
		"POST /orders/%d/payments after %d refusals of another order: status, want 201: a refusal is a healthy payment service saying no; it must not count as a failure of the breaker, or a few declined cards stop every checkout",
		other.ID, degrade.BreakerFailures+1)
	require.Equal(t, 1, e.charges(t, other.ID), "payments for order %d", other.ID)
}
