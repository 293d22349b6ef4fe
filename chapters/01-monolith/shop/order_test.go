package shop_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/internal/locktest"
	"github.com/gomicrolab/microlab/chapters/01-monolith/shop"
)

func TestPlaceOrderTotalsInCents(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err)
	pen, err := s.CreateProduct(ctx, "pen", 1999, 10)
	require.NoError(t, err)
	clip, err := s.CreateProduct(ctx, "clip", 10, 10)
	require.NoError(t, err)
	// 0.29 has no exact binary float: 0.29*100 is 28.999999999999996, which truncates to 28.
	gum, err := s.CreateProduct(ctx, "gum", 29, 10)
	require.NoError(t, err)

	o, replayed, err := s.PlaceOrder(ctx, shop.NewOrder{UserID: u.ID, Items: []shop.Item{
		{ProductID: pen.ID, Quantity: 3}, {ProductID: clip.ID, Quantity: 3}, {ProductID: gum.ID, Quantity: 1},
	}})
	require.NoError(t, err, "PlaceOrder(3 pens, 3 clips, 1 gum)%s", locktest.Explain(err))
	require.False(t, replayed, "PlaceOrder without a key reported a replay")
	require.Equal(t, int64(3*1999+3*10+29), o.TotalCents,
		"PlaceOrder(3×1999 + 3×10 + 1×29).TotalCents: add integer cents (price_cents × quantity as int64); float dollars lose cents")
	require.Equal(t, shop.StatusPending, o.Status, "a new order's status")
	require.NotZero(t, o.ID, "PlaceOrder returned an order without an id")
	require.Equal(t, []shop.OrderLine{
		{ProductID: pen.ID, Quantity: 3, PriceCents: 1999},
		{ProductID: clip.ID, Quantity: 3, PriceCents: 10},
		{ProductID: gum.ID, Quantity: 1, PriceCents: 29},
	}, o.Items, "PlaceOrder(...).Items: one line per product with its unit price")

	got, err := s.GetOrder(ctx, o.ID)
	require.NoError(t, err, "GetOrder(%d) after PlaceOrder", o.ID)
	require.Equal(t, o, got, "GetOrder(%d) = stored order, want what PlaceOrder returned", o.ID)
	require.Equal(t, 7, stockOf(t, s, pen.ID), "pen stock after ordering 3 of 10")
	require.Equal(t, 7, stockOf(t, s, clip.ID), "clip stock after ordering 3 of 10")
	require.Equal(t, 9, stockOf(t, s, gum.ID), "gum stock after ordering 1 of 10")
}

// TestPlaceOrderSameProductTwice orders one product in two lines: both lines are bought, whether they are
// merged into one or not.
func TestPlaceOrderSameProductTwice(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	u, err := s.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err)
	pen, err := s.CreateProduct(ctx, "pen", 1999, 10)
	require.NoError(t, err)

	o, _, err := s.PlaceOrder(ctx, shop.NewOrder{UserID: u.ID, Items: []shop.Item{
		{ProductID: pen.ID, Quantity: 2}, {ProductID: pen.ID, Quantity: 3},
	}})
	require.NoError(t, err, "PlaceOrder(2 pens, 3 pens)%s", locktest.Explain(err))
	require.Equal(t, int64(5*1999), o.TotalCents,
		"PlaceOrder(2 pens, 3 pens).TotalCents: both lines are bought, so the total counts 5 pens (add repeated quantities, do not keep one)")
	sold := 0
	for _, l := range o.Items {
		if l.ProductID == pen.ID {
			sold += l.Quantity
		}
	}
	require.Equal(t, 5, sold, "PlaceOrder(2 pens, 3 pens).Items = %v: the lines hold %d pens, want 5", o.Items, sold)
	require.Equal(t, 5, stockOf(t, s, pen.ID),
		"pen stock after ordering 2 + 3 of 10: both lines take stock, want 5 left")
}

// TestPlaceOrderLastUnitRace makes 20 buyers overlap for certain: the test holds the product's row lock
// until every buyer is queued behind it, so each one has already done whatever it does before taking
// stock (a plain SELECT of the stock, say) when they are let go together.
func TestPlaceOrderLastUnitRace(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	p, err := s.CreateProduct(ctx, "last one", 500, 1)
	require.NoError(t, err)
	const buyers = 20
	users := make([]shop.User, buyers)
	for i := range users {
		users[i], err = s.CreateUser(ctx, fmt.Sprintf("buyer %d", i), fmt.Sprintf("buyer%d@example.com", i))
		require.NoError(t, err)
	}

	release := locktest.Hold(t, db, "products", p.ID)
	var wg sync.WaitGroup
	var finished atomic.Int32
	errs := make(chan error, buyers)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			_, _, err := s.PlaceOrder(ctx, shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: p.ID, Quantity: 1}}})
			errs <- err
		}()
	}
	locktest.WaitForWaiters(t, db, buyers, func() int { return int(finished.Load()) })
	release()
	wg.Wait()
	close(errs)

	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, shop.ErrOutOfStock):
		default:
			t.Errorf("PlaceOrder(last unit) error = %v, want nil or ErrOutOfStock%s", err, locktest.Explain(err))
		}
	}
	require.Equal(t, 1, wins, "%d buyers raced for 1 unit: winners = %d, want exactly 1 (check and take stock in one step: a conditional UPDATE, or SELECT ... FOR UPDATE)", buyers, wins)
	require.Equal(t, 0, stockOf(t, s, p.ID), "stock after the race, want 0: it must never go below zero")
	require.Equal(t, 1, count(t, db, "orders"), "orders stored after the race")
}

// TestPlaceOrderOppositeOrdersDoNotDeadlock sends two orders for the same two products, listed in
// opposite orders, by two users. The test holds both rows until both orders wait, then releases them:
// orders that lock rows in the order the client listed them now each hold one row and wait for the other.
func TestPlaceOrderOppositeOrdersDoNotDeadlock(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	a, err := s.CreateProduct(ctx, "a", 100, 10)
	require.NoError(t, err)
	b, err := s.CreateProduct(ctx, "b", 200, 10)
	require.NoError(t, err)
	ada, err := s.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err)
	bob, err := s.CreateUser(ctx, "bob", "bob@example.com")
	require.NoError(t, err)

	releaseA := locktest.Hold(t, db, "products", a.ID)
	releaseB := locktest.Hold(t, db, "products", b.ID)
	orders := []shop.NewOrder{
		{UserID: ada.ID, Items: []shop.Item{{ProductID: a.ID, Quantity: 1}, {ProductID: b.ID, Quantity: 1}}},
		{UserID: bob.ID, Items: []shop.Item{{ProductID: b.ID, Quantity: 1}, {ProductID: a.ID, Quantity: 1}}},
	}
	var wg sync.WaitGroup
	var finished atomic.Int32
	errs := make([]error, len(orders))
	for i, o := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer finished.Add(1)
			_, _, errs[i] = s.PlaceOrder(ctx, o)
		}()
	}
	locktest.WaitForWaiters(t, db, len(orders), func() int { return int(finished.Load()) })
	releaseA()
	releaseB()
	wg.Wait()

	for i, err := range errs {
		require.NoError(t, err, "PlaceOrder(%s's order, products %d then %d) with another order for the same products in the opposite order: "+
			"lock rows in one global order (sort the items by product id)%s",
			[]string{"ada", "bob"}[i], orders[i].Items[0].ProductID, orders[i].Items[1].ProductID, locktest.Explain(err))
	}
	require.Equal(t, 8, stockOf(t, s, a.ID), "stock of a after two orders of 1")
	require.Equal(t, 8, stockOf(t, s, b.ID), "stock of b after two orders of 1")
}

func TestPlaceOrderPersistsNothingOnError(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	u, err := s.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err)
	plenty, err := s.CreateProduct(ctx, "plenty", 100, 5)
	require.NoError(t, err)
	scarce, err := s.CreateProduct(ctx, "scarce", 100, 1)
	require.NoError(t, err)

	tests := []struct {
		name    string
		order   shop.NewOrder
		wantErr error
	}{
		{
			name:    "second line out of stock",
			order:   shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: plenty.ID, Quantity: 2}, {ProductID: scarce.ID, Quantity: 3}}},
			wantErr: shop.ErrOutOfStock,
		},
		{
			name:    "second line unknown product",
			order:   shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: plenty.ID, Quantity: 2}, {ProductID: scarce.ID + 1000, Quantity: 1}}},
			wantErr: shop.ErrNotFound,
		},
		{
			name:    "unknown user",
			order:   shop.NewOrder{UserID: u.ID + 1000, Items: []shop.Item{{ProductID: plenty.ID, Quantity: 1}}},
			wantErr: shop.ErrNotFound,
		},
		{
			name:    "zero quantity",
			order:   shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: plenty.ID, Quantity: 1}, {ProductID: scarce.ID, Quantity: 0}}},
			wantErr: shop.ErrInvalid,
		},
		{
			name:    "negative quantity",
			order:   shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: plenty.ID, Quantity: -2}}},
			wantErr: shop.ErrInvalid,
		},
		{
			name:    "no items",
			order:   shop.NewOrder{UserID: u.ID},
			wantErr: shop.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.PlaceOrder(ctx, tt.order)
			require.ErrorIs(t, err, tt.wantErr, "PlaceOrder(%s)%s", tt.name, locktest.Explain(err))
			locktest.RequireUnlocked(t, db, "a failed PlaceOrder("+tt.name+")", "users", "products")
			require.Equal(t, 5, stockOf(t, s, plenty.ID), "stock of the first line after a failed order: the transaction must roll back")
			require.Equal(t, 1, stockOf(t, s, scarce.ID), "stock of the second line after a failed order")
			require.Equal(t, 0, count(t, db, "orders"), "orders stored after a failed order")
			require.Equal(t, 0, count(t, db, "order_items"), "order lines stored after a failed order")
		})
	}
}
