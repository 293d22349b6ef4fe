package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/order"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
)

// CreateOrder takes the stock and stores the order in one transaction; see app.OrderRepository.
// It is mysqlstore.CreateOrder with PostgreSQL's placeholders and RETURNING.
func (s *Store) CreateOrder(ctx context.Context, o *order.Order, key string) (*order.Order, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	// Rollback after Commit is a no-op. It gets its own context: with a cancelled ctx pgx could not
	// send the ROLLBACK and would close the connection instead.
	defer tx.Rollback(context.WithoutCancel(ctx))

	if key != "" {
		// Claim the key first: a concurrent request with the same key waits here, then sees a duplicate.
		_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (user_id, idem_key) VALUES ($1, $2)`, o.UserID(), key)
		if isUniqueViolation(err) {
			// Unlike MySQL, PostgreSQL aborts the whole transaction after an error: every further
			// statement in it fails (SQLSTATE 25P02). End it and read the first order outside.
			_ = tx.Rollback(ctx)
			var id int64
			err := s.pool.QueryRow(ctx, `SELECT order_id FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2`,
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

	// Take the stock with a conditional UPDATE: the WHERE re-checks stock on the locked row, so two
	// orders cannot both take the last pen, at READ COMMITTED as at REPEATABLE READ. Lock in
	// product order (no deadlocks).
	for _, l := range sortedLines(o.Lines()) {
		tag, err := tx.Exec(ctx, `UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1`,
			l.Quantity, l.ProductID)
		if err != nil {
			return nil, false, fmt.Errorf("create order: take stock: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM products WHERE id = $1`, l.ProductID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, domain.ErrNotFound)
			}
			if err != nil {
				return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, err)
			}
			return nil, false, fmt.Errorf("create order: product %d: %w", l.ProductID, product.ErrOutOfStock)
		}
	}

	snap := o.Snapshot()
	err = tx.QueryRow(ctx, `INSERT INTO orders (user_id, status, total_cents, payment_id) VALUES ($1, $2, $3, $4) RETURNING id`,
		snap.UserID, snap.Status, snap.TotalCents, nullString(snap.PaymentID)).Scan(&snap.ID)
	if err != nil {
		return nil, false, fmt.Errorf("create order: %w", err)
	}
	for _, l := range snap.Lines {
		_, err := tx.Exec(ctx, `INSERT INTO order_lines (order_id, product_id, quantity, price_cents) VALUES ($1, $2, $3, $4)`,
			snap.ID, l.ProductID, l.Quantity, l.PriceCents)
		if err != nil {
			return nil, false, fmt.Errorf("create order: line: %w", err)
		}
	}
	if key != "" {
		_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET order_id = $1 WHERE user_id = $2 AND idem_key = $3`,
			snap.ID, snap.UserID, key)
		if err != nil {
			return nil, false, fmt.Errorf("create order: record key: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("create order: commit: %w", err)
	}
	stored, err := order.FromSnapshot(snap)
	return stored, true, err
}

// GetOrder returns the order or domain.ErrNotFound.
func (s *Store) GetOrder(ctx context.Context, id int64) (*order.Order, error) {
	return loadOrder(ctx, s.pool, id, false)
}

// loadOrder reads an order; forUpdate locks its row until the surrounding transaction ends.
func loadOrder(ctx context.Context, q querier, id int64, forUpdate bool) (*order.Order, error) {
	query := `SELECT user_id, status, total_cents, payment_id FROM orders WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	snap := order.Snapshot{ID: id}
	var paymentID *string // NULL scans as nil
	err := q.QueryRow(ctx, query, id).Scan(&snap.UserID, &snap.Status, &snap.TotalCents, &paymentID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("order %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get order %d: %w", id, err)
	}
	if paymentID != nil {
		snap.PaymentID = *paymentID
	}
	// A pgx Rows holds its connection (and in a transaction, the transaction) until it is closed:
	// defer rows.Close() on every path, or the pool runs dry and pool.Close waits forever.
	rows, err := q.Query(ctx, `SELECT product_id, quantity, price_cents FROM order_lines WHERE order_id = $1 ORDER BY id`, id)
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

// nullString maps "" to SQL NULL: pgx sends a nil *string as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sortedLines orders lines by product id, so concurrent orders lock rows in one order (no deadlocks).
func sortedLines(lines []order.Line) []order.Line {
	lines = slices.Clone(lines)
	slices.SortFunc(lines, func(a, b order.Line) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return lines
}
