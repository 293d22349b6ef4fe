package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
)

func (s *Store) CreateProduct(ctx context.Context, p product.Product) (product.Product, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO products (name, price_cents, stock) VALUES (?, ?, ?)`,
		p.Name, p.PriceCents, p.Stock)
	if isOutOfRange(err) {
		// The domain allows any stock >= 0; the column holds an INT. Too big is the client's mistake.
		return product.Product{}, fmt.Errorf("insert product: stock %d: %w", p.Stock, domain.ErrInvalid)
	}
	if err != nil {
		return product.Product{}, fmt.Errorf("insert product: %w", err)
	}
	if p.ID, err = res.LastInsertId(); err != nil {
		return product.Product{}, fmt.Errorf("insert product: %w", err)
	}
	return p, nil
}

func (s *Store) GetProduct(ctx context.Context, id int64) (product.Product, error) {
	p := product.Product{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, price_cents, stock FROM products WHERE id = ?`, id).
		Scan(&p.Name, &p.PriceCents, &p.Stock)
	if errors.Is(err, sql.ErrNoRows) {
		return product.Product{}, fmt.Errorf("product %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return product.Product{}, fmt.Errorf("get product %d: %w", id, err)
	}
	return p, nil
}
