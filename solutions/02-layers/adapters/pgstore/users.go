package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// CreateUser stores a user; a taken email is user.ErrEmailTaken (a domain.ErrConflict).
func (s *Store) CreateUser(ctx context.Context, u user.User) (user.User, error) {
	// One statement inserts and returns the id: PostgreSQL has no LastInsertId, and a second query
	// (SELECT max(id)) could see another session's row.
	err := s.pool.QueryRow(ctx, `INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id`, u.Name, u.Email).Scan(&u.ID)
	if isUniqueViolation(err) {
		// The only unique constraint of users besides the identity column is uq_users_email.
		return user.User{}, fmt.Errorf("insert user: %w", user.ErrEmailTaken)
	}
	if err != nil {
		return user.User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, id int64) (user.User, error) {
	u := user.User{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT name, email FROM users WHERE id = $1`, id).Scan(&u.Name, &u.Email)
	if errors.Is(err, pgx.ErrNoRows) {
		return user.User{}, fmt.Errorf("user %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return user.User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}
