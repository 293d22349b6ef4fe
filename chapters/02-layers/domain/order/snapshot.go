package order

import (
	"fmt"
	"slices"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
)

// Snapshot is an order's state as plain data, for adapters that store or cache it. It is not the
// aggregate: nothing can change an Order through a Snapshot.
type Snapshot struct {
	ID         int64  `json:"id"`
	UserID     int64  `json:"user_id"`
	Status     Status `json:"status"`
	Lines      []Line `json:"lines"`
	TotalCents int64  `json:"total_cents"`
	PaymentID  string `json:"payment_id,omitempty"`
}

// Snapshot returns the order's state. The lines are a copy.
func (o *Order) Snapshot() Snapshot {
	return Snapshot{
		ID: o.id, UserID: o.userID, Status: o.status, Lines: slices.Clone(o.lines),
		TotalCents: o.totalCents, PaymentID: o.paymentID,
	}
}

// FromSnapshot rebuilds an order that was stored before. It refuses a state that New and the
// transitions could never have produced, so a corrupt row or cache entry fails loudly.
func FromSnapshot(s Snapshot) (*Order, error) {
	o, err := New(s.UserID, s.Lines)
	if err != nil {
		return nil, fmt.Errorf("order %d from snapshot: %w", s.ID, err)
	}
	if o.totalCents != s.TotalCents {
		return nil, fmt.Errorf("order %d from snapshot: total %d, lines add up to %d: %w", s.ID, s.TotalCents, o.totalCents, domain.ErrInvalid)
	}
	switch {
	case s.Status == StatusPaid && s.PaymentID == "":
		return nil, fmt.Errorf("order %d from snapshot: paid without a payment id: %w", s.ID, domain.ErrInvalid)
	case s.Status != StatusPending && s.Status != StatusPaid && s.Status != StatusCancelled:
		return nil, fmt.Errorf("order %d from snapshot: status %q: %w", s.ID, s.Status, domain.ErrInvalid)
	}
	o.id, o.status, o.paymentID = s.ID, s.Status, s.PaymentID
	return o, nil
}
