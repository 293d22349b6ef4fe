package mysqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
)

// CreateOrder takes the stock and stores the order in one transaction; see app.OrderRepository.
// It is chapter 01's PlaceOrder, moved to where transactions belong.
func (s *Store) CreateOrder(ctx context.Context, o *order.Order, key string) (*order.Order, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	defer tx.Rollback()

	if key != "" {
		// Claim the key first: a concurrent request with the same key waits here, then sees a duplicate.
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, idem_key) VALUES (?, ?)`, o.UserID(), key)
		if isDuplicateKey(err) {
			_ = tx.Rollback()
			var id int64
			err := s.db.QueryRowContext(ctx, `SELECT order_id FROM idempotency_keys WHERE user_id = ? AND idem_key = ?`,
				o.UserID(), key).Scan(&id)
			if err != nil {
				return nil, false, fmt.Errorf("create order: replay key: %w", err)
			}
			stored, err := s.GetOrder(ctx, id)
			return stored, false, err
		}
		if err != nil {
			return nil, false, fmt.Errorf("create order: claim key: %w", err)
		}
	}

	// The aggregate refuses repeated products, so each line is one row; lock in product order.
	for _, l := range sortedLines(o.Lines()) {
		res, err := tx.ExecContext(ctx, `UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?`,
			l.Quantity, l.ProductID, l.Quantity)
		if err != nil {
			return nil, false, fmt.Errorf("create order: take stock: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, false, fmt.Errorf("create order: take stock: %w", err)
		} else if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM products WHERE id = ?`, l.ProductID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, domain.ErrNotFound)
			}
			if err != nil {
				return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, err)
			}
			return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, product.ErrOutOfStock)
		}
	}

	snap := o.Snapshot()
	res, err := tx.ExecContext(ctx, `INSERT INTO orders (user_id, status, total_cents, payment_id) VALUES (?, ?, ?, ?)`,
		snap.UserID, snap.Status, snap.TotalCents, nullString(snap.PaymentID))
	if err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	if snap.ID, err = res.LastInsertId(); err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	for _, l := range snap.Lines {
		_, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, product_id, quantity, price_cents) VALUES (?, ?, ?, ?)`,
			snap.ID, l.ProductID, l.Quantity, l.PriceCents)
		if err != nil {
			return nil, false, fmt.Errorf("create order: line: %w", err)
		}
	}
	if key != "" {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET order_id = ? WHERE user_id = ? AND idem_key = ?`,
			snap.ID, snap.UserID, key)
		if err != nil {
			return nil, false, fmt.Errorf("create order: record key: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("create order: commit: %w", err)
	}
	stored, err := order.FromSnapshot(snap)
	return stored, true, err
}

// GetOrder returns the order or domain.ErrNotFound.
func (s *Store) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	return loadOrder(ctx, s.db, id, false)
}

// loadOrder reads an order; forUpdate locks its row until the surrounding transaction ends.
func loadOrder(ctx context.Context, q querier, id int64, forUpdate bool) (*order.Order, error) {
	query := `SELECT user_id, status, total_cents, payment_id FROM orders WHERE id = ?`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	snap := order.Snapshot{ID: id}
	var paymentID sql.NullString
	err := q.QueryRowContext(ctx, query, id).Scan(&snap.UserID, &snap.Status, &snap.TotalCents, &paymentID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("order %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get order %d: %w", id, err)
	}
	snap.PaymentID = paymentID.String
	rows, err := q.QueryContext(ctx, `SELECT product_id, quantity, price_cents FROM order_lines WHERE order_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("get order %d lines: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l order.Line
		if err := rows.Scan(&l.ProductID, &l.Quantity, &l.PriceCents); err != nil {
			return nil, fmt.Errorf("get order %d lines: %w", id, err)
		}
		snap.Lines = append(snap.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get order %d lines: %w", id, err)
	}
	return order.FromSnapshot(snap)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// sortedLines orders lines by product id, so concurrent orders lock rows in one order (no deadlocks).
func sortedLines(lines []order.Line) []order.Line {
	lines = slices.Clone(lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return lines
}
