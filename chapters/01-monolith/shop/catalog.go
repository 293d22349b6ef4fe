package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// errDuplicateKey is MySQL's (and MariaDB's) error number for a unique-key violation.
const errDuplicateKey = 1062

func isDuplicateKey(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == errDuplicateKey
}

// CreateUser stores a user. A taken email is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, name, email string) (User, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, email) VALUES (?, ?)`, name, email)
	if isDuplicateKey(err) {
		return User{}, fmt.Errorf("create user %q: email taken: %w", email, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return User{ID: id, Name: name, Email: email}, nil
}

// GetUser returns a user or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	u := User{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, email FROM users WHERE id = ?`, id).Scan(&u.Name, &u.Email)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// CreateProduct stores a product.
func (s *Store) CreateProduct(ctx context.Context, name string, priceCents int64, stock int) (Product, error) {
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO products (name, price_cents, stock) VALUES (?, ?, ?)`, name, priceCents, stock)
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Product{}, fmt.Errorf("create product: %w", err)
	}
	return Product{ID: id, Name: name, PriceCents: priceCents, Stock: stock}, nil
}

// GetProduct returns a product or ErrNotFound.
func (s *Store) GetProduct(ctx context.Context, id int64) (Product, error) {
	p := Product{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, price_cents, stock FROM products WHERE id = ?`, id).
		Scan(&p.Name, &p.PriceCents, &p.Stock)
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, fmt.Errorf("product %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Product{}, fmt.Errorf("get product %d: %w", id, err)
	}
	return p, nil
}
