package system

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
)

// maxPaymentCalls is the bound the order service documents (service.MaxPaymentCalls): at most this many
// ListPayments calls of one history request are in flight at once.
const maxPaymentCalls = 4

const listPayments = "capstone.payment.v1.PaymentService/ListPayments"

// probe watches the ListPayments calls of one request at the payment service. Its orders' calls wait at a
// barrier until maxPaymentCalls of them are in flight together, so concurrency is seen whatever the scheduling:
// a correct order service always gets there, a sequential one never does (the barrier then opens after a bound).
type probe struct {
	index map[int64]int // order id -> its place in the user's history
	fail  int64         // this order's call fails with UNAVAILABLE once maxPaymentCalls calls are in flight
	hold  bool          // the other calls wait for their ctx to end (bounded), and report how it ended

	mu            sync.Mutex
	inFlight, max int
	calls         int
	full          chan struct{} // closed when maxPaymentCalls calls were first in flight together
	open          chan struct{} // the barrier: closed once, then every call passes
	openOnce      sync.Once
	ended         chan error // how held calls ended: their ctx's error, or errNotCancelled
}

var errNotCancelled = errors.New("the call's ctx was still live after 3s")

func newProbe(orders []int64) *probe {
	p := &probe{index: map[int64]int{}, full: make(chan struct{}), open: make(chan struct{}), ended: make(chan error, len(orders))}
	for i, id := range orders {
		p.index[id] = i
	}
	return p
}

func (p *probe) openBarrier() { p.openOnce.Do(func() { close(p.open) }) }

// serve runs one ListPayments call of the probe's orders.
func (p *probe) serve(ctx context.Context, orderID int64, next func(context.Context) (any, error)) (any, error) {
	p.mu.Lock()
	p.calls++
	p.inFlight++
	p.max = max(p.max, p.inFlight)
	switch {
	case p.inFlight > maxPaymentCalls:
		p.openBarrier() // over the bound: no need to wait, the test fails on max
	case p.inFlight == maxPaymentCalls && p.full != nil:
		close(p.full)
		p.full = nil
		// Wait a little longer for a call beyond the bound (an unbounded fan-out starts them all at once).
		time.AfterFunc(300*time.Millisecond, p.openBarrier)
	case p.calls == 1:
		// A sequential caller never has two calls in flight: open after a bound, and the test fails on max. The
		// bound stays below the order service's 5s timeout per call, so the request itself still succeeds.
		time.AfterFunc(4*time.Second, p.openBarrier)
	}
	full := p.full
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()

	switch {
	case orderID == p.fail:
		if full != nil {
			select { // fail once the others are in flight, so that there is something to cancel
			case <-full:
			case <-time.After(4 * time.Second):
			case <-ctx.Done():
			}
		}
		return nil, status.Error(codes.Unavailable, "test: the payment service is overloaded")
	case p.hold:
		select {
		case <-ctx.Done():
			p.ended <- ctx.Err()
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(3 * time.Second):
			p.ended <- errNotCancelled
			return nil, status.Error(codes.Unavailable, "test: held call released")
		}
	}
	select {
	case <-p.open:
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	// Later orders answer sooner: calls that start together finish in reverse order, so results kept in the
	// order the calls finish come out shuffled.
	time.Sleep(20*time.Millisecond + time.Duration(len(p.index)-1-p.index[orderID])*5*time.Millisecond)
	return next(ctx)
}

// slowEnv is a running capstone whose payment service sends ListPayments calls through probes.
type slowEnv struct {
	*env
	mu     sync.Mutex
	probes map[int64]*probe // order id -> the probe of its request
}

func startSlow(t *testing.T, with ...func(*Config)) *slowEnv {
	s := &slowEnv{probes: map[int64]*probe{}}
	intercept := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		r, ok := req.(*paymentv1.ListPaymentsRequest)
		if !ok {
			return handler(ctx, req)
		}
		s.mu.Lock()
		p := s.probes[r.GetOrderId()]
		s.mu.Unlock()
		if p == nil {
			return handler(ctx, req)
		}
		return p.serve(ctx, r.GetOrderId(), func(ctx context.Context) (any, error) { return handler(ctx, req) })
	}
	with = append(with, func(c *Config) {
		c.PaymentOptions = append(c.PaymentOptions, grpc.ChainUnaryInterceptor(intercept))
	})
	s.env = start(t, with...)
	return s
}

// seed stores n orders of userID in the order database (not through checkout: this exercise reads them) and
// charges order i (i % 3) times at the payment service. It returns the orders' ids and each one's payments.
func (s *slowEnv) seed(t *testing.T, userID int64, n int) ([]int64, map[int64][]payJSON) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []int64
	payments := map[int64][]payJSON{}
	for i := range n {
		total := int64(100 * (i + 1))
		res, err := s.orderDB.ExecContext(ctx, "INSERT INTO orders (user_id, status, total_cents) VALUES (?, 'pending', ?)", userID, total)
		require.NoError(t, err, "seed an order")
		id, err := res.LastInsertId()
		require.NoError(t, err)
		_, err = s.orderDB.ExecContext(ctx, "INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES (?, 7, 1, ?)", id, total)
		require.NoError(t, err, "seed an order item")
		ids = append(ids, id)
		payments[id] = []payJSON{}
		for k := range i % 3 {
			resp, err := s.payments.Charge(ctx, &paymentv1.ChargeRequest{OrderId: id, AmountCents: total + int64(k),
				IdempotencyKey: fmt.Sprintf("seed-%d-%d", id, k)})
			require.NoError(t, err, "seed a payment")
			payments[id] = append(payments[id], payJSON{ID: resp.GetPayment().GetId(), AmountCents: total + int64(k)})
		}
	}
	return ids, payments
}

// watch sends the ListPayments calls of these orders through a new probe.
func (s *slowEnv) watch(orders []int64, configure func(*probe)) *probe {
	p := newProbe(orders)
	if configure != nil {
		configure(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range orders {
		s.probes[id] = p
	}
	return p
}

type payJSON struct {
	ID          int64 `json:"id"`
	AmountCents int64 `json:"amount_cents"`
}

type historyJSON struct {
	Orders []struct {
		ID       int64     `json:"id"`
		UserID   int64     `json:"user_id"`
		Payments []payJSON `json:"payments"`
	} `json:"orders"`
}

// TestSlowOrderHistory: GET /users/:id/orders answers with the user's orders, oldest first, each with its
// payments; the order service asks the payment service for them concurrently, never more than
// maxPaymentCalls at once, and the trace of the request shows their ListPayments spans overlapping.
func TestSlowOrderHistory(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	providers := map[string]*sdktrace.TracerProvider{}
	t.Cleanup(func() {
		for _, tp := range providers {
			_ = tp.Shutdown(context.Background())
		}
	})
	s := startSlow(t, func(c *Config) {
		c.Tracer = func(service string) trace.TracerProvider {
			if providers[service] == nil {
				providers[service] = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
					sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", service))))
			}
			return providers[service]
		}
	})
	const n = 20
	const user, other = 1, 2
	s.seed(t, other, 2) // another user's orders, before and after: never in this user's history
	ids, payments := s.seed(t, user, n)
	s.seed(t, other, 2)
	p := s.watch(ids, nil)

	var got historyJSON
	began := time.Now()
	require.Equal(t, http.StatusOK, s.do(t, "GET", fmt.Sprintf("/users/%d/orders", user), nil, nil, &got), "GET /users/%d/orders: status, want 200 with the history", user)
	took := time.Since(began)

	var gotIDs []int64
	for _, o := range got.Orders {
		gotIDs = append(gotIDs, o.ID)
	}
	require.Equal(t, ids, gotIDs, "GET /users/%d/orders: order ids = %v, want %v (oldest first): keep each result at its order's index, not in the order the calls finish", user, gotIDs, ids)
	for _, o := range got.Orders {
		require.Equal(t, int64(user), o.UserID, "order %d: user_id", o.ID)
		require.Equal(t, payments[o.ID], o.Payments, "order %d: payments = %v, want %v: each order gets its own payments", o.ID, o.Payments, payments[o.ID])
	}

	p.mu.Lock()
	calls, most := p.calls, p.max
	p.mu.Unlock()
	require.Equal(t, n, calls, "ListPayments calls for %d orders = %d, want %d: one per order", n, calls, n)
	require.LessOrEqual(t, most, maxPaymentCalls, "ListPayments calls in flight at once = %d, want at most %d: bound the fan-out (errgroup SetLimit), or one user with 100 orders floods the payment service", most, maxPaymentCalls)
	require.Equal(t, maxPaymentCalls, most, "ListPayments calls in flight at once = %d, want %d: the calls still run one after another (or fewer at a time than documented), so the request takes N round trips", most, maxPaymentCalls)
	t.Logf("GET /users/%d/orders with %d orders took %v (each ListPayments 20-115 ms)", user, n, took)

	// The trace shows it too: the request's ListPayments spans overlap in time.
	var calls2 []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		var root sdktrace.ReadOnlySpan
		for _, sp := range spans.Ended() {
			if sp.Name() == "capstone.order.v1.OrderService/ListUserOrders" && sp.SpanKind() == trace.SpanKindServer {
				root = sp
			}
		}
		if root == nil {
			return false
		}
		calls2 = calls2[:0]
		for _, sp := range spans.Ended() {
			if sp.Name() == listPayments && sp.SpanKind() == trace.SpanKindClient && sp.SpanContext().TraceID() == root.SpanContext().TraceID() {
				calls2 = append(calls2, sp)
			}
		}
		return len(calls2) == n
	}, 10*time.Second, 10*time.Millisecond, "the trace of GET /users/%d/orders has no %d client spans %s: call the payment service with a ctx derived from the request's", user, n, listPayments)
	overlap := false
	for i, a := range calls2 {
		for _, b := range calls2[i+1:] {
			if a.StartTime().Before(b.EndTime()) && b.StartTime().Before(a.EndTime()) {
				overlap = true
			}
		}
	}
	require.True(t, overlap, "the %d ListPayments spans of one request never overlap in time: the trace shows them in a row", n)
}

// TestSlowFailures: the history is all or nothing. When one ListPayments call fails, the request fails with the
// cause's status (UNAVAILABLE: 503, retrying is safe), never a partial list, and the calls still in flight are
// cancelled; when the client goes away, every call in flight is cancelled.
func TestSlowFailures(t *testing.T) {
	s := startSlow(t)

	t.Run("one call fails", func(t *testing.T) {
		const user = 10
		ids, _ := s.seed(t, user, maxPaymentCalls)
		p := s.watch(ids, func(p *probe) { p.fail, p.hold = ids[1], true })
		code := s.do(t, "GET", fmt.Sprintf("/users/%d/orders", user), nil, nil, nil)
		require.Equal(t, http.StatusServiceUnavailable, code,
			"GET /users/%d/orders while ListPayments of order %d fails with UNAVAILABLE: status = %d, want 503: fail the whole request with the first error, wrapped with %%w (not a partial list, not the other calls' \"canceled\")", user, ids[1], code)
		for range maxPaymentCalls - 1 {
			select {
			case err := <-p.ended:
				require.ErrorIs(t, err, context.Canceled, "a ListPayments call still running when another failed ended with %v, want context.Canceled: cancel the rest on the first error (errgroup.WithContext, and call with its ctx)", err)
			case <-time.After(10 * time.Second):
				t.Fatalf("the other ListPayments calls did not end within 10s after one failed")
			}
		}
	})

	t.Run("client goes away", func(t *testing.T) {
		const user = 11
		ids, _ := s.seed(t, user, maxPaymentCalls)
		p := s.watch(ids, func(p *probe) { p.hold = true })
		p.mu.Lock()
		full := p.full
		p.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/users/%d/orders", s.sys.GatewayURL, user), nil)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		select {
		case <-full:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
			t.Fatalf("GET /users/%d/orders: %d ListPayments calls were never in flight together within 10s, want %d", user, maxPaymentCalls, maxPaymentCalls)
		}
		cancel() // the client goes away
		<-done
		for range maxPaymentCalls {
			select {
			case err := <-p.ended:
				require.ErrorIs(t, err, context.Canceled, "a ListPayments call in flight when the client went away ended with %v, want context.Canceled: derive the calls' ctx from the request's (not context.Background or WithoutCancel)", err)
			case <-time.After(10 * time.Second):
				t.Fatalf("the ListPayments calls did not end within 10s after the client went away")
			}
		}
	})
}
