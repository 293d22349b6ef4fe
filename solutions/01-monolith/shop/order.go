package shop

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// PlaceOrder places an order for in.UserID and returns it. The bool is true when the order is a replay:
// an earlier request with the same in.IdempotencyKey already placed it.
//
// Errors: ErrNotFound for an unknown user or product, ErrOutOfStock when any line cannot be served,
// ErrInvalid for an empty order or a quantity below 1, ErrKeyReused for a known key with other items.
// On any error nothing is stored.
//
// Lock order, the same in every transaction: the user's row, then the idempotency key, then the
// products by ascending id. Transactions that take locks in one global order cannot deadlock.
func (s *Store) PlaceOrder(ctx context.Context, in NewOrder) (Order, bool, error) {
	items, err := normalise(in.Items)
	if err != nil {
		return Order{}, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}
	// Rollback after Commit is a no-op, so this one line undoes every early return below, and gives
	// the connection and its row locks back. Without it a failed order would keep its locks.
	defer tx.Rollback()

	// Lock the user's row: it checks that the user exists, and it queues this user's orders one behind
	// the other. That is what makes concurrent retries of one key safe even when the first one fails:
	// without it, several transactions waiting to insert the same key all wake up when the first rolls
	// back, and InnoDB kills all but one of them as a deadlock (each holds a shared lock the other needs).
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ? FOR UPDATE`, in.UserID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, false, fmt.Errorf("place order: user %d: %w", in.UserID, ErrNotFound)
	}
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: %w", err)
	}

	hash := fingerprint(items)
	if in.IdempotencyKey != "" {
		// Claim the key before touching stock, inside this transaction: if the order fails, the rollback
		// frees the key for a later retry. A key that another transaction committed is a duplicate key:
		// then this request is a replay. Checking with a SELECT first would let two requests both see
		// "no key yet" (the user lock covers that here, but the unique key is the guarantee).
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, idem_key, request_hash) VALUES (?, ?, ?)`,
			in.UserID, in.IdempotencyKey, hash)
		if isDuplicateKey(err) {
			_ = tx.Rollback()
			return s.replay(ctx, in.UserID, in.IdempotencyKey, hash)
		}
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: claim key: %w", err)
		}
	}

	order := Order{UserID: in.UserID, Status: StatusPending, Items: make([]OrderLine, 0, len(items))}
	for _, it := range items {
		price, err := takeStock(ctx, tx, it)
		if err != nil {
			return Order{}, false, fmt.Errorf("place order: %w", err)
		}
		order.Items = append(order.Items, OrderLine{ProductID: it.ProductID, Quantity: it.Quantity, PriceCents: price})
		order.TotalCents += price * int64(it.Quantity) // integer cents: exact, unlike float dollars
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

// fingerprint identifies what was ordered: the normalised items, so the same lines in another order or
// split differently are the same request. The user is part of the key already.
func fingerprint(items []Item) string {
	h := sha256.New()
	for _, it := range items {
		fmt.Fprintf(h, "%d:%d;", it.ProductID, it.Quantity)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replay returns the order that the first request with this key placed. It reads outside the failed
// transaction, so it sees the winner's committed rows. The lookup is by (user, key): a key is the
// user's own, and another user's key must never reveal an order.
func (s *Store) replay(ctx context.Context, userID int64, key, hash string) (Order, bool, error) {
	var orderID sql.NullInt64
	var firstHash string
	err := s.db.QueryRowContext(ctx, `SELECT order_id, request_hash FROM idempotency_keys WHERE user_id = ? AND idem_key = ?`,
		userID, key).Scan(&orderID, &firstHash)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: replay key: %w", err)
	}
	if firstHash != hash {
		return Order{}, false, fmt.Errorf("place order: key %q: %w", key, ErrKeyReused)
	}
	if !orderID.Valid {
		// Only a committed claim makes the insert fail, and a claim commits together with its order.
		return Order{}, false, fmt.Errorf("place order: key %q has no order", key)
	}
	// The same read as GET /orders/{id}: a replay answers with the same body as the first response.
	o, err := s.GetOrder(ctx, orderID.Int64)
	if err != nil {
		return Order{}, false, fmt.Errorf("place order: replay: %w", err)
	}
	return o, true, nil
}
