package shop

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// PlaceOrder places an order for in.UserID and returns it. The bool is true when the order is a replay:
// an earlier request with the same in.IdempotencyKey already placed it.
//
// Errors: ErrNotFound for an unknown user or product, ErrOutOfStock when any line cannot be served,
// ErrInvalid for an empty order or a quantity below 1. On any error nothing is stored.
func (s *Store) PlaceOrder(ctx context.Context, in NewOrder) (Order, bool, error) {
	items, err := normalise(in.Items)
	if err != nil {
		return Order{}, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}
	// Rollback after Commit is a no-op, so this one line undoes every early return below.
	defer tx.Rollback()

	if in.IdempotencyKey != "" {
		// Claim the key before touching stock. The primary key (user_id, idem_key) makes a second
		// request with the same key wait here until the first commits, and then fail with a
		// duplicate key. Checking with a SELECT first would let both requests see "no key yet".
		_, err := tx.ExecContext(ctx,
			`INSERT INTO idempotency_keys (user_id, idem_key) VALUES (?, ?)`, in.UserID, in.IdempotencyKey)
		if isDuplicateKey(err) {
			_ = tx.Rollback()
			return s.replay(ctx, in.UserID, in.IdempotencyKey)
		}
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: claim key: %w", err)
		}
	}

	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, in.UserID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, false, fmt.Errorf("place order: user %d: %w", in.UserID, ErrNotFound)
	}
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}

	order := Order{UserID: in.UserID, Status: StatusPending, Items: make([]OrderLine, 0, len(items))}
	for _, it := range items {
		price, err := takeStock(ctx, tx, it)
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: %w", err)
		}
		order.Items = append(order.Items, OrderLine{ProductID: it.ProductID, Quantity: it.Quantity, PriceCents: price})
		order.TotalCents += price * int64(it.Quantity)
	}

	res, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, status, total_cents) VALUES (?, ?, ?)`,
		order.UserID, order.Status, order.TotalCents)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}
	if order.ID, err = res.LastInsertId(); err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}
	for _, l := range order.Items {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES (?, ?, ?, ?)`,
			order.ID, l.ProductID, l.Quantity, l.PriceCents)
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: line: %w", err)
		}
	}
	if in.IdempotencyKey != "" {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET order_id = ? WHERE user_id = ? AND idem_key = ?`,
			order.ID, in.UserID, in.IdempotencyKey)
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: record key: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Order{}, false, fmt.Errorf("place order: commit: %w", err)
	}
	return order, false, nil
}

// takeStock takes it.Quantity units with a conditional UPDATE and returns the unit price.
// The WHERE clause is the stock check: the row lock makes concurrent updates queue up, and each one
// re-evaluates stock >= ? against the committed value, so the last unit goes to exactly one of them.
// (SELECT ... FOR UPDATE followed by a plain UPDATE is the other correct way; a plain SELECT is not.)
func takeStock(ctx context.Context, tx *sql.Tx, it Item) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?`,
		it.Quantity, it.ProductID, it.Quantity)
	if err != nil {
		return 0, fmt.Errorf("product %d: %w", it.ProductID, err)
	}
	changed, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("product %d: %w", it.ProductID, err)
	}
	// Read the price inside the transaction; zero rows changed means "no such product" or "too few left".
	var price int64
	err = tx.QueryRowContext(ctx, `SELECT price_cents FROM products WHERE id = ?`, it.ProductID).Scan(&price)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("product %d: %w", it.ProductID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("product %d: %w", it.ProductID, err)
	}
	if changed == 0 {
		return 0, fmt.Errorf("product %d: %d wanted: %w", it.ProductID, it.Quantity, ErrOutOfStock)
	}
	return price, nil
}

// normalise merges repeated products and sorts by product id. Locking rows in one global order means
// two orders for the same products cannot deadlock by locking them in opposite orders.
func normalise(items []Item) ([]Item, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("place order: no items: %w", ErrInvalid)
	}
	qty := map[int64]int{}
	for _, it := range items {
		if it.Quantity < 1 {
			return nil, fmt.Errorf("place order: product %d quantity %d: %w", it.ProductID, it.Quantity, ErrInvalid)
		}
		qty[it.ProductID] += it.Quantity
	}
	out := make([]Item, 0, len(qty))
	for id, q := range qty {
		out = append(out, Item{ProductID: id, Quantity: q})
	}
	slices.SortFunc(out, func(a, b Item) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return out, nil
}

// replay returns the order that the first request with this key placed. It reads outside the failed
// transaction, so it sees the winner's committed rows.
func (s *Store) replay(ctx context.Context, userID int64, key string) (Order, bool, error) {
	var orderID sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT order_id FROM idempotency_keys WHERE user_id = ? AND idem_key = ?`,
		userID, key).Scan(&orderID)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: replay key: %w", err)
	}
	if !orderID.Valid {
		// Only a committed claim makes the insert fail, and a claim commits together with its order.
		return Order{}, false, fmt.Errorf("place order: key %q has no order", key)
	}
	o, err := s.GetOrder(ctx, orderID.Int64)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: replay: %w", err)
	}
	return o, true, nil
}
