package choreo

import (
	"context"
)

// Each Handle below is one service's part of the saga. The pattern is the same in all four:
//
//   - ignore the events that are not for this service (return nil: the offset moves on);
//   - in ONE transaction of the service's own database (s.InTx): record the message id with
//     outbox.FirstDelivery(ctx, tx, s.Name, msgID) and stop if it was handled before; apply the effect; and
//     s.Emit the next event;
//   - a business failure (out of stock, declined, not deliverable) is not an error: it commits, and emits the
//     failure event. Return an error only when the event must be delivered again (the database failed).

// Handle reacts to the end of the saga: Shipped completes a pending order; StockRejected, PaymentDeclined
// and ShipmentFailed cancel it.
func (s *OrderService) Handle(ctx context.Context, msgID string, ev Event) error {
	// TODO(08-choreo): complete or cancel the pending order, once per message.
	return errTODO
}

// Handle reserves the stock for OrderPlaced (StockReserved, or StockRejected when there is not enough), and
// releases the reservation when a later step fails (PaymentDeclined, ShipmentFailed).
func (s *Inventory) Handle(ctx context.Context, msgID string, ev Event) error {
	// TODO(08-choreo): reserve on OrderPlaced and emit the outcome; release on the failures of later steps.
	return errTODO
}

// Handle charges the order's amount for StockReserved (PaymentCharged, or PaymentDeclined when the balance is
// too low), and refunds it when shipping fails (ShipmentFailed).
func (s *Payment) Handle(ctx context.Context, msgID string, ev Event) error {
	// TODO(08-choreo): charge on StockReserved and emit the outcome; refund on ShipmentFailed, exactly once.
	return errTODO
}

// Handle ships a paid order (PaymentCharged): Shipped, or ShipmentFailed when the address is not Deliverable.
func (s *Shipping) Handle(ctx context.Context, msgID string, ev Event) error {
	// TODO(08-choreo): ship on PaymentCharged and emit the outcome.
	return errTODO
}
