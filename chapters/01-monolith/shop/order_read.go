package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// querier is what *sql.DB and *sql.Tx have in common, so reads work inside and outside a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// GetOrder returns an order with its lines, or ErrNotFound.
func (s *Store) GetOrder(ctx context.Context, id int64) (Order, error) {
	return getOrder(ctx, s.db, id)
}

func getOrder(ctx context.Context, q querier, id int64) (Order, error) {
	o := Order{ID: id}
	err := q.QueryRowContext(ctx, `SELECT user_id, status, total_cents FROM orders WHERE id = ?`, id).
		Scan(&o.UserID, &o.Status, &o.TotalCents)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %d: %w", id, err)
	}
	rows, err := q.QueryContext(ctx,
		`SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = ? ORDER BY id`, id)
	if err != nil {
		return Order{}, fmt.Errorf("get order %d items: %w", id, err)
	}
	defer rows.Close()
	o.Items = []OrderLine{}
	for rows.Next() {
		var l OrderLine
		if err := rows.Scan(&l.ProductID, &l.Quantity, &l.PriceCents); err != nil {
			return Order{}, fmt.Errorf("get order %d items: %w", id, err)
		}
		o.Items = append(o.Items, l)
	}
	if err := rows.Err(); err != nil {
		return Order{}, fmt.Errorf("get order %d items: %w", id, err)
	}
	return o, nil
}
