package shop_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

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

	o, replayed, err := s.PlaceOrder(ctx, shop.NewOrder{UserID: u.ID, Items: []shop.Item{
		{ProductID: pen.ID, Quantity: 3}, {ProductID: clip.ID, Quantity: 3},
	}})
	require.NoError(t, err, "PlaceOrder(3 pens, 3 clips)")
	require.False(t, replayed, "PlaceOrder without a key reported a replay")
	require.Equal(t, int64(3*1999+3*10), o.TotalCents, "PlaceOrder(3×1999 + 3×10).TotalCents")
	require.Equal(t, shop.StatusPending, o.Status, "a new order's status")
	require.NotZero(t, o.ID, "PlaceOrder returned an order without an id")

	got, err := s.GetOrder(ctx, o.ID)
	require.NoError(t, err, "GetOrder(%d) after PlaceOrder", o.ID)
	require.Equal(t, o, got, "GetOrder(%d) = stored order, want what PlaceOrder returned", o.ID)
	require.Equal(t, 7, stockOf(t, s, pen.ID), "pen stock after ordering 3 of 10")
	require.Equal(t, 7, stockOf(t, s, clip.ID), "clip stock after ordering 3 of 10")
}

func TestPlaceOrderLastUnitRace(t *testing.T) {
	ctx := context.Background()
	s, db := newStore(t)
	u, err := s.CreateUser(ctx, "ada", "ada@example.com")
	require.NoError(t, err)
	p, err := s.CreateProduct(ctx, "last one", 500, 1)
	require.NoError(t, err)

	const buyers = 20
	var wg sync.WaitGroup
	errs := make(chan error, buyers)
	start := make(chan struct{})
	for range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, _, err := s.PlaceOrder(ctx, shop.NewOrder{UserID: u.ID, Items: []shop.Item{{ProductID: p.ID, Quantity: 1}}})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)

	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, shop.ErrOutOfStock):
		default:
			t.Errorf("PlaceOrder(last unit) error = %v, want nil or ErrOutOfStock", err)
		}
	}
	require.Equal(t, 1, wins, "%d buyers raced for 1 unit: winners = %d, want exactly 1 (lock the row or use a conditional UPDATE)", buyers, wins)
	require.Equal(t, 0, stockOf(t, s, p.ID), "stock after the race")
	require.Equal(t, 1, count(t, db, "orders"), "orders stored after the race")
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
			name:    "no items",
			order:   shop.NewOrder{UserID: u.ID},
			wantErr: shop.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.PlaceOrder(ctx, tt.order)
			require.ErrorIs(t, err, tt.wantErr, "PlaceOrder(%s)", tt.name)
			require.Equal(t, 5, stockOf(t, s, plenty.ID), "stock of the first line after a failed order: the transaction must roll back")
			require.Equal(t, 1, stockOf(t, s, scarce.ID), "stock of the second line after a failed order")
			require.Equal(t, 0, count(t, db, "orders"), "orders stored after a failed order")
			require.Equal(t, 0, count(t, db, "order_items"), "order lines stored after a failed order")
		})
	}
}
