package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/adapters/memstore"
	"github.com/gomicrolab/microlab/chapters/02-layers/app"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
)

// fakePayments records charges and fails while fail is set. Like a provider that has already taken the
// money, it does not look at ctx: whether a charge happens is the service's decision.
type fakePayments struct {
	mu      sync.Mutex
	charges []int64 // amounts
	fail    error
	ctxs    []context.Context // the ctx of every charge

	// When overlap is set, a charge waits (up to overlapWait) for a second charge to be in flight at
	// the same time, so two charges that the service lets overlap always both happen, however the
	// goroutines are scheduled. Charges that the service serialises each wait once and go on.
	overlap  bool
	inFlight atomic.Int32
	two      chan struct{}
}

// overlapWait is generous: a second goroutine needs far less to reach Charge on a loaded machine.
const overlapWait = 2 * time.Second

func (p *fakePayments) Charge(ctx context.Context, orderID, amountCents int64) (string, error) {
	if p.overlap {
		if p.inFlight.Add(1) == 2 {
			close(p.two)
		}
		select {
		case <-p.two:
		case <-time.After(overlapWait):
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctxs = append(p.ctxs, ctx)
	if p.fail != nil {
		return "", p.fail
	}
	p.charges = append(p.charges, amountCents)
	return fmt.Sprintf("fake-%d-%d", orderID, len(p.charges)), nil
}

func (p *fakePayments) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.charges)
}

func newService(t *testing.T) (*app.Service, *fakePayments) {
	t.Helper()
	store := memstore.New()
	pay := &fakePayments{two: make(chan struct{})}
	svc, err := app.NewService(store, store, store, pay)
	require.NoError(t, err, "app.NewService")
	return svc, pay
}

// pendingOrder places an order for 2 × 1999 cents and returns it.
func pendingOrder(t *testing.T, svc *app.Service) *order.Order {
	t.Helper()
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err, "CreateUser")
	p, err := svc.CreateProduct(ctx, "pen", 1999, 10)
	require.NoError(t, err, "CreateProduct")
	o, created, err := svc.PlaceOrder(ctx, u.ID, []app.Item{{ProductID: p.ID, Quantity: 2}}, "")
	require.NoError(t, err, "PlaceOrder")
	require.True(t, created, "PlaceOrder without a key: created")
	return o
}

func TestServiceRefusesMissingDependencies(t *testing.T) {
	store := memstore.New()
	_, err := app.NewService(store, store, nil, &fakePayments{})
	require.Error(t, err, "app.NewService with no order repository")
}

func TestServicePlaceOrder(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	o := pendingOrder(t, svc)
	require.Equal(t, int64(2*1999), o.TotalCents(), "PlaceOrder: total priced from the catalogue")

	_, _, err := svc.PlaceOrder(ctx, 999, []app.Item{{ProductID: 1, Quantity: 1}}, "")
	require.ErrorIs(t, err, domain.ErrNotFound, "PlaceOrder for an unknown user")
	_, _, err = svc.PlaceOrder(ctx, o.UserID(), []app.Item{{ProductID: o.Lines()[0].ProductID, Quantity: 100}}, "")
	require.ErrorIs(t, err, product.ErrOutOfStock, "PlaceOrder for more than the stock")
}

// requestKey marks the request's ctx, as a request id or a trace span would.
type requestKey struct{}

func TestServicePayOrder(t *testing.T) {
	ctx := context.Background()
	t.Run("pays a pending order once", func(t *testing.T) {
		svc, pay := newService(t)
		o := pendingOrder(t, svc)
		req := context.WithValue(ctx, requestKey{}, "req-1")
		pid, err := svc.PayOrder(req, o.ID(), o.TotalCents())
		require.NoError(t, err, "PayOrder(total)")
		require.NotEmpty(t, pid, "PayOrder returned no payment id")
		require.Equal(t, []int64{o.TotalCents()}, pay.charges, "charges after PayOrder(total): one charge of the total")
		require.Equal(t, "req-1", pay.ctxs[0].Value(requestKey{}),
			"the ctx Charge got carries no value of the request's ctx: pass the request's ctx down to Charge, so the request's deadline, cancellation and trace go with the call")
		got, err := svc.GetOrder(ctx, o.ID())
		require.NoError(t, err)
		require.Equal(t, order.StatusPaid, got.Status(), "status after PayOrder(total): the closure must leave the order paid (o.Pay) for the repository to store")
		require.Equal(t, pid, got.PaymentID(), "stored payment id")
	})
	t.Run("never charges for an order that cannot be paid", func(t *testing.T) {
		svc, pay := newService(t)
		o := pendingOrder(t, svc)
		_, err := svc.PayOrder(ctx, o.ID(), o.TotalCents()-1)
		require.ErrorIs(t, err, order.ErrAmountMismatch, "PayOrder(wrong amount) = %v, want order.ErrAmountMismatch", err)
		require.Equal(t, 0, pay.count(), "charges after PayOrder(wrong amount): ask the aggregate before charging")

		_, err = svc.PayOrder(ctx, o.ID(), o.TotalCents())
		require.NoError(t, err, "PayOrder(total)")
		_, err = svc.PayOrder(ctx, o.ID(), o.TotalCents())
		require.ErrorIs(t, err, order.ErrIllegalTransition, "PayOrder on a paid order")
		require.Equal(t, 1, pay.count(), "charges after paying a paid order again: the customer was charged twice")

		_, err = svc.PayOrder(ctx, 4242, 100)
		require.ErrorIs(t, err, domain.ErrNotFound, "PayOrder(unknown order)")
		require.Equal(t, 1, pay.count(), "charges after PayOrder(unknown order)")
	})
	t.Run("a failed charge leaves the order pending", func(t *testing.T) {
		svc, pay := newService(t)
		o := pendingOrder(t, svc)
		declined := errors.New("card declined")
		pay.fail = declined
		_, err := svc.PayOrder(ctx, o.ID(), o.TotalCents())
		require.ErrorIs(t, err, declined, "PayOrder with the charge failing = %v, want the charge's error: no money was taken, so the payment failed", err)
		got, err := svc.GetOrder(ctx, o.ID())
		require.NoError(t, err)
		require.Equal(t, order.StatusPending, got.Status(), "status after a failed charge: no money was taken, the order stays unpaid")

		pay.fail = nil
		_, err = svc.PayOrder(ctx, o.ID(), o.TotalCents())
		require.NoError(t, err, "PayOrder after the provider recovered")
	})
	t.Run("concurrent payments charge once", func(t *testing.T) {
		svc, pay := newService(t)
		o := pendingOrder(t, svc)
		pay.overlap = true
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _ = svc.PayOrder(ctx, o.ID(), o.TotalCents())
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, 1, pay.count(), "8 concurrent PayOrder: %d charges, want 1: decide and charge inside UpdateOrder's closure, which holds the order", pay.count())
	})
	t.Run("a cancelled request charges nobody", func(t *testing.T) {
		svc, pay := newService(t)
		o := pendingOrder(t, svc)
		gone, cancel := context.WithCancel(ctx)
		cancel() // the client hung up before the service got to work
		_, err := svc.PayOrder(gone, o.ID(), o.TotalCents())
		require.ErrorIs(t, err, context.Canceled, "PayOrder with a cancelled ctx = %v, want an error wrapping context.Canceled: pass the request's ctx down", err)
		require.Equal(t, 0, pay.count(), "charges after PayOrder with a cancelled ctx: nobody is waiting for the answer, so nobody may be charged")
		got, err := svc.GetOrder(ctx, o.ID())
		require.NoError(t, err)
		require.Equal(t, order.StatusPending, got.Status(), "status after PayOrder with a cancelled ctx")
	})
}
