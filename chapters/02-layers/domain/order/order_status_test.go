package order

// An internal test: it builds orders in states that New and FromSnapshot can never produce (the zero
// Order, a status nobody defined), because code that decides by "not paid and not cancelled" would
// happily pay them. The transitions must name the statuses they allow, not the ones they forbid.

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrderTransitionsAllowOnlyPending(t *testing.T) {
	for _, status := range []Status{"", "refunded", "PENDING", "shipped"} {
		t.Run("status "+string(status), func(t *testing.T) {
			newOrder := func() *Order {
				// totalCents 0 matches an amount of 0, so only the status can refuse.
				return &Order{id: 9, userID: 7, status: status}
			}

			o := newOrder()
			require.ErrorIs(t, o.CanPay(0), ErrIllegalTransition,
				"CanPay(0) on an order with status %q: only a pending order can be paid (list the allowed status, not the forbidden ones)", status)
			require.ErrorIs(t, o.Pay(0, "pay-1"), ErrIllegalTransition,
				"Pay(0, \"pay-1\") on an order with status %q: only a pending order can be paid", status)
			require.Equal(t, status, o.Status(), "Status() after a refused Pay on status %q: a refused change changes nothing", status)
			require.Empty(t, o.PaymentID(), "PaymentID() after a refused Pay on status %q", status)

			o = newOrder()
			require.ErrorIs(t, o.Cancel(), ErrIllegalTransition,
				"Cancel() on an order with status %q: only a pending order can be cancelled", status)
			require.Equal(t, status, o.Status(), "Status() after a refused Cancel on status %q", status)
		})
	}
}
