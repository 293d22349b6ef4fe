// Package payments is a stand-in payment provider that approves every charge. It is an adapter like
// any other: chapter 03 onwards replace it with a payment service.
package payments

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Simulator approves every charge and returns a fresh payment id.
type Simulator struct {
	n atomic.Int64
}

// Charge approves amountCents for orderID.
func (s *Simulator) Charge(ctx context.Context, orderID, amountCents int64) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return fmt.Sprintf("sim-%d-%d", orderID, s.n.Add(1)), nil
}
