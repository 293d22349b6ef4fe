package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/product"
)

// CreateProduct stores a product. There is no LastInsertId in PostgreSQL: the INSERT returns the new
// id itself (RETURNING id), in the same statement, so no second query can see another session's row.
func (s *Store) CreateProduct(ctx context.Context, p product.Product) (product.Product, error) {
	if p.Stock > math.MaxInt32 {
		// The domain allows any stock >= 0; the column holds an INT. Too big is the client's mistake
		// (pgx would refuse to encode it, with an error that is no domain error).
		return product.Product{}, fmt.Errorf("insert product: stock %d: %w", p.Stock, domain.ErrInvalid)
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO products (name, price_cents, stock) VALUES ($1, $2, $3) RETURNING id`,
		p.Name, p.PriceCents, p.Stock).Scan(&p.ID)
	if err != nil {
		return product.Product{}, fmt.Errorf("insert product: %w", err)
	}
	return p, nil
}

func (s *Store) GetProduct(ctx context.Context, id int64) (product.Product, error) {
	p := product.Product{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT name, price_cents, stock FROM products WHERE id = $1`, id).
		Scan(&p.Name, &p.PriceCents, &p.Stock)
	if errors.Is(err, pgx.ErrNoRows) {
		return product.Product{}, fmt.Errorf("product %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return product.Product{}, fmt.Errorf("get product %d: %w", id, err)
	}
	return p, nil
}
