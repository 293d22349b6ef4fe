package saga

import "context"

// Services are the three services a checkout touches, each behind its own database. Every call is
// idempotent by orderID (a repeated Charge charges once), and an undo of something that never happened is a
// no-op (a Refund with no Charge does nothing): a saga may repeat a call after a crash, and that must be safe.
//
// A call fails in one of two ways. An error that wraps ErrBusiness is an answer (card declined, address not
// deliverable): the service did nothing and retrying will not change its mind. Any other error (timeout,
// connection refused, 503) says nothing about what happened: the call must be made again.
type Services interface {
	Reserve(ctx context.Context, orderID string) error // hold the order's items in stock
	Release(ctx context.Context, orderID string) error // undo Reserve
	Charge(ctx context.Context, orderID string) error  // take the money
	Refund(ctx context.Context, orderID string) error  // undo Charge
	Ship(ctx context.Context, orderID string) error    // hand the parcel to the carrier: cannot be undone
}

// NaiveCheckout is how checkout is often first written: call the services one after another and return the
// first error. When Ship fails after Charge succeeded, the customer has paid for nothing, and no one will
// ever notice. `go test -v -run NaiveBaseline` shows it. It is the baseline the saga fixes; leave it as it is.
func NaiveCheckout(ctx context.Context, s Services, orderID string) error {
	if err := s.Charge(ctx, orderID); err != nil {
		return err
	}
	return s.Ship(ctx, orderID)
}

// Checkout is the checkout saga: reserve the stock, charge the card, ship, each with the call that undoes it.
func Checkout(s Services) []Step {
	// TODO(08-saga): list the steps with their compensations; the one that cannot be undone goes last.
	return nil
}
