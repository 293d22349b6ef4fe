package order_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
)

func validLines() []order.Line {
	return []order.Line{{ProductID: 1, Quantity: 2, PriceCents: 1999}, {ProductID: 2, Quantity: 1, PriceCents: 5}}
}

func TestOrderNew(t *testing.T) {
	o, err := order.New(7, validLines())
	require.NoError(t, err, "order.New(7, valid lines)")
	require.Equal(t, int64(7), o.UserID(), "UserID()")
	require.Equal(t, order.StatusPending, o.Status(), "Status() of a new order")
	require.Equal(t, int64(2*1999+5), o.TotalCents(), "TotalCents() = 2×1999 + 1×5")
	require.Equal(t, validLines(), o.Lines(), "Lines()")

	// Money is integer cents all the way: above 2^53 a float64 cannot hold every cent.
	big := []order.Line{{ProductID: 1, Quantity: 1, PriceCents: 1<<53 + 1}, {ProductID: 2, Quantity: 1, PriceCents: 1}}
	o, err = order.New(7, big)
	require.NoError(t, err, "order.New(7, %v)", big)
	require.Equal(t, int64(1<<53+2), o.TotalCents(), "TotalCents() of %v: add up int64 cents, never float64", big)
}

func TestOrderNewRejectsInvalid(t *testing.T) {
	tests := []struct {
		name   string
		userID int64
		lines  []order.Line
	}{
		{"no user", 0, validLines()},
		{"negative user", -1, validLines()},
		{"no lines", 7, nil},
		{"empty lines", 7, []order.Line{}},
		{"zero quantity", 7, []order.Line{{ProductID: 1, Quantity: 0, PriceCents: 100}}},
		{"negative quantity", 7, []order.Line{{ProductID: 1, Quantity: -3, PriceCents: 100}}},
		{"zero price", 7, []order.Line{{ProductID: 1, Quantity: 1, PriceCents: 0}}},
		{"negative price", 7, []order.Line{{ProductID: 1, Quantity: 1, PriceCents: -100}}},
		{"no product", 7, []order.Line{{ProductID: 0, Quantity: 1, PriceCents: 100}}},
		{"negative product", 7, []order.Line{{ProductID: -1, Quantity: 1, PriceCents: 100}}},
		{"bad second line", 7, []order.Line{{ProductID: 1, Quantity: 1, PriceCents: 100}, {ProductID: 2, Quantity: 0, PriceCents: 100}}},
		{"same product twice", 7, []order.Line{{ProductID: 1, Quantity: 1, PriceCents: 100}, {ProductID: 1, Quantity: 2, PriceCents: 100}}},
		{"line total overflows int64", 7, []order.Line{{ProductID: 1, Quantity: 2, PriceCents: math.MaxInt64/2 + 1}}},
		{"sum overflows int64", 7, []order.Line{{ProductID: 1, Quantity: 1, PriceCents: math.MaxInt64}, {ProductID: 2, Quantity: 1, PriceCents: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := order.New(tt.userID, tt.lines)
			require.ErrorIs(t, err, domain.ErrInvalid, "order.New(%d, %v) = %v, want an error wrapping domain.ErrInvalid (%s): an order that breaks a rule must never exist", tt.userID, tt.lines, err, tt.name)
			require.Nil(t, o, "order.New(%d, %v) returned an order with its error", tt.userID, tt.lines)
		})
	}
}

func TestOrderEncapsulation(t *testing.T) {
	typ := reflect.TypeFor[order.Order]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		require.False(t, f.IsExported(), "order.Order has the exported field %s: keep state behind methods", f.Name)
	}

	lines := validLines()
	o, err := order.New(7, lines)
	require.NoError(t, err, "order.New(7, valid lines)")
	lines[0].Quantity = 1000
	require.Equal(t, int64(2*1999+5), o.TotalCents(), "TotalCents() after the caller changed its slice")
	require.Equal(t, 2, o.Lines()[0].Quantity, "Lines()[0].Quantity after the caller changed its own slice: New must copy it")

	got := o.Lines()
	got[0].Quantity = 1000
	require.Equal(t, 2, o.Lines()[0].Quantity, "Lines()[0].Quantity after editing the slice Lines() returned: return a copy")
}

// orderIn returns an order in the given status.
func orderIn(t *testing.T, s order.Status) *order.Order {
	t.Helper()
	o, err := order.New(7, validLines())
	require.NoError(t, err, "order.New(7, valid lines)")
	switch s {
	case order.StatusPaid:
		require.NoError(t, o.Pay(o.TotalCents(), "pay-1"), "Pay(total) on a pending order")
	case order.StatusCancelled:
		require.NoError(t, o.Cancel(), "Cancel() on a pending order")
	}
	require.Equal(t, s, o.Status(), "setting up an order in status %s", s)
	return o
}

func TestOrderTransitions(t *testing.T) {
	const total = 2*1999 + 5
	pay := func(amount int64, id string) func(*order.Order) error {
		return func(o *order.Order) error { return o.Pay(amount, id) }
	}
	cancel := func(o *order.Order) error { return o.Cancel() }
	tests := []struct {
		name    string
		from    order.Status
		action  func(*order.Order) error
		wantErr error // nil: allowed
		want    order.Status
	}{
		{"pay pending", order.StatusPending, pay(total, "pay-9"), nil, order.StatusPaid},
		{"cancel pending", order.StatusPending, cancel, nil, order.StatusCancelled},
		{"cancel paid", order.StatusPaid, cancel, order.ErrIllegalTransition, order.StatusPaid},
		{"pay paid", order.StatusPaid, pay(total, "pay-9"), order.ErrIllegalTransition, order.StatusPaid},
		{"pay cancelled", order.StatusCancelled, pay(total, "pay-9"), order.ErrIllegalTransition, order.StatusCancelled},
		{"cancel cancelled", order.StatusCancelled, cancel, order.ErrIllegalTransition, order.StatusCancelled},
		{"pay too little", order.StatusPending, pay(total-1, "pay-9"), order.ErrAmountMismatch, order.StatusPending},
		{"pay too much", order.StatusPending, pay(total+1, "pay-9"), order.ErrAmountMismatch, order.StatusPending},
		{"pay without payment id", order.StatusPending, pay(total, ""), domain.ErrInvalid, order.StatusPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := orderIn(t, tt.from)
			before := o.Snapshot()
			err := tt.action(o)
			if tt.wantErr == nil {
				require.NoError(t, err, "%s (from %s) = %v, want nil", tt.name, tt.from, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr, "%s (from %s) = %v, want an error wrapping %v", tt.name, tt.from, err, tt.wantErr)
				require.Equal(t, before, o.Snapshot(), "%s failed but changed the order", tt.name)
			}
			require.Equal(t, tt.want, o.Status(), "Status() after %s", tt.name)
		})
	}

	t.Run("transition errors are conflicts", func(t *testing.T) {
		err := orderIn(t, order.StatusPaid).Cancel()
		require.ErrorIs(t, err, domain.ErrConflict, "Cancel() on a paid order: the transport maps conflicts to 409")
	})

	t.Run("can pay does not change the order", func(t *testing.T) {
		o := orderIn(t, order.StatusPending)
		require.NoError(t, o.CanPay(total), "CanPay(total) on a pending order")
		require.Equal(t, order.StatusPending, o.Status(), "Status() after CanPay")
		require.True(t, errors.Is(orderIn(t, order.StatusPaid).CanPay(total), order.ErrIllegalTransition), "CanPay on a paid order")
	})
}

func TestOrderSnapshotRoundTrip(t *testing.T) {
	o := orderIn(t, order.StatusPaid)
	back, err := order.FromSnapshot(o.Snapshot())
	require.NoError(t, err, "FromSnapshot(Snapshot()) of a paid order")
	require.Equal(t, o.Snapshot(), back.Snapshot(), "FromSnapshot(Snapshot()) round trip")

	bad := o.Snapshot()
	bad.TotalCents++
	_, err = order.FromSnapshot(bad)
	require.ErrorIs(t, err, domain.ErrInvalid, "FromSnapshot with a total that does not match the lines")
}
