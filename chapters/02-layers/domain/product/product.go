// Package product is the catalogue entity.
package product

import (
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
)

// ErrOutOfStock is a conflict: there are not enough units left.
var ErrOutOfStock = fmt.Errorf("out of stock: %w", domain.ErrConflict)

// Product is something to sell. Money is integer cents.
type Product struct {
	ID         int64
	Name       string
	PriceCents int64
	Stock      int
}

// New returns a valid product without an id.
func New(name string, priceCents int64, stock int) (Product, error) {
	switch {
	case name == "" || len(name) > 100:
		return Product{}, fmt.Errorf("product name %q: %w", name, domain.ErrInvalid)
	case priceCents < 1:
		return Product{}, fmt.Errorf("product price %d: %w", priceCents, domain.ErrInvalid)
	case stock < 0:
		return Product{}, fmt.Errorf("product stock %d: %w", stock, domain.ErrInvalid)
	}
	return Product{Name: name, PriceCents: priceCents, Stock: stock}, nil
}
