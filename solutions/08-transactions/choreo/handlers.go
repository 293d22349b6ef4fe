package choreo

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/08-transactions/internal/outbox"
)

// Each Handle below is one service's part of the saga. The pattern is the same in all four:
//
//   - ignore the events that are not for this service (return nil: the offset moves on);
//   - in ONE transaction of the service's own database (s.InTx): record the message id with
//     outbox.FirstDelivery(ctx, tx, s.Name, msgID) and stop if it was handled before; apply the effect; and
//     s.Emit the next event;
//   - a business failure (out of stock, declined, not deliverable) is not an error: it commits, and emits the
//     failure event. Return an error only when the event must be delivered again (the database failed).

// once runs effect in one transaction with the record of msgID, unless msgID was handled before. The dedupe
// row, the effect and the emitted event commit together or not at all: a crash anywhere leaves either all
// three (a redelivery is skipped, the relay publishes the event) or none (the redelivery does the work).
func (s *Service) once(ctx context.Context, msgID string, effect func(tx *sql.Tx) error) error {
	return s.InTx(ctx, func(tx *sql.Tx) error {
		first, err := outbox.FirstDelivery(ctx, tx, s.Name, msgID)
		if err != nil || !first {
			return err
		}
		return effect(tx)
	})
}

// Handle reacts to the end of the saga: Shipped completes a pending order; StockRejected, PaymentDeclined
// and ShipmentFailed cancel it.
func (s *OrderService) Handle(ctx context.Context, msgID string, ev Event) error {
	var state string
	switch ev.Type {
	case Shipped:
		state = OrderCompleted
	case StockRejected, PaymentDeclined, ShipmentFailed:
		state = OrderCancelled
	default:
		return nil
	}
	return s.once(ctx, msgID, func(tx *sql.Tx) error {
		// Only a pending order moves: a saga ends once.
		_, err := tx.ExecContext(ctx, `UPDATE orders SET state = ? WHERE id = ? AND state = ?`, state, ev.Order.ID, OrderPending)
		if err != nil {
			return fmt.Errorf("order %s: %s: %w", ev.Order.ID, state, err)
		}
		return nil
	})
}

// Handle reserves the stock for OrderPlaced (StockReserved, or StockRejected when there is not enough), and
// releases the reservation when a later step fails (PaymentDeclined, ShipmentFailed).
func (s *Inventory) Handle(ctx context.Context, msgID string, ev Event) error {
	o := ev.Order
	switch ev.Type {
	case OrderPlaced:
		return s.once(ctx, msgID, func(tx *sql.Tx) error {
			// A conditional UPDATE: the check and the take are one statement, so two orders cannot both take
			// the last item.
			res, err := tx.ExecContext(ctx, `UPDATE stock SET qty = qty - ? WHERE sku = ? AND qty >= ?`, o.Qty, o.SKU, o.Qty)
			if err != nil {
				return fmt.Errorf("inventory: reserve %s: %w", o.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				// Out of stock is an answer, not an error: commit the dedupe row with the failure event.
				return s.Emit(ctx, tx, StockRejected, o)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (order_id, sku, qty, state) VALUES (?, ?, ?, ?)`,
				o.ID, o.SKU, o.Qty, Reserved); err != nil {
				return fmt.Errorf("inventory: record reservation %s: %w", o.ID, err)
			}
			return s.Emit(ctx, tx, StockReserved, o)
		})
	case PaymentDeclined, ShipmentFailed:
		// A later step failed: undo ours. (StockRejected is our own failure: nothing was reserved.)
		return s.once(ctx, msgID, func(tx *sql.Tx) error {
			// Only a reservation still held is given back: a release never adds stock twice.
			res, err := tx.ExecContext(ctx, `UPDATE reservations SET state = ? WHERE order_id = ? AND state = ?`, Released, o.ID, Reserved)
			if err != nil {
				return fmt.Errorf("inventory: release %s: %w", o.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE stock SET qty = qty + ? WHERE sku = ?`, o.Qty, o.SKU); err != nil {
				return fmt.Errorf("inventory: restock %s: %w", o.ID, err)
			}
			return nil
		})
	}
	return nil
}

// Handle charges the order's amount for StockReserved (PaymentCharged, or PaymentDeclined when the balance is
// too low), and refunds it when shipping fails (ShipmentFailed).
func (s *Payment) Handle(ctx context.Context, msgID string, ev Event) error {
	o := ev.Order
	switch ev.Type {
	case StockReserved:
		return s.once(ctx, msgID, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE wallets SET balance = balance - ? WHERE user_id = ? AND balance >= ?`, o.Amount, o.UserID, o.Amount)
			if err != nil {
				return fmt.Errorf("payment: charge %s: %w", o.ID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return s.Emit(ctx, tx, PaymentDeclined, o)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO payments (order_id, user_id, amount, state) VALUES (?, ?, ?, ?)`,
				o.ID, o.UserID, o.Amount, Charged); err != nil {
				return fmt.Errorf("payment: record %s: %w", o.ID, err)
			}
			return s.Emit(ctx, tx, PaymentCharged, o)
		})
	case ShipmentFailed:
		return s.once(ctx, msgID, func(tx *sql.Tx) error {
			// Two guards: the dedupe row (this message, once) and the payment's state (this payment, once,
			// whatever message asks). The amount is the one charged, read from our own table.
			var amount, user int64
			err := tx.QueryRowContext(ctx, `SELECT amount, user_id FROM payments WHERE order_id = ? AND state = ? FOR UPDATE`,
				o.ID, Charged).Scan(&amount, &user)
			if err == sql.ErrNoRows {
				return nil // nothing charged, nothing to give back
			}
			if err != nil {
				return fmt.Errorf("payment: find charge %s: %w", o.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE payments SET state = ? WHERE order_id = ?`, Refunded, o.ID); err != nil {
				return fmt.Errorf("payment: refund %s: %w", o.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE wallets SET balance = balance + ? WHERE user_id = ?`, amount, user); err != nil {
				return fmt.Errorf("payment: refund %s: %w", o.ID, err)
			}
			return nil
		})
	}
	return nil
}

// Handle ships a paid order (PaymentCharged): Shipped, or ShipmentFailed when the address is not Deliverable.
func (s *Shipping) Handle(ctx context.Context, msgID string, ev Event) error {
	if ev.Type != PaymentCharged {
		return nil
	}
	o := ev.Order
	return s.once(ctx, msgID, func(tx *sql.Tx) error {
		if !Deliverable(o.Address) {
			return s.Emit(ctx, tx, ShipmentFailed, o)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO shipments (order_id, address) VALUES (?, ?)`, o.ID, o.Address); err != nil {
			return fmt.Errorf("shipping: ship %s: %w", o.ID, err)
		}
		return s.Emit(ctx, tx, Shipped, o)
	})
}
