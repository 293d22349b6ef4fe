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
	// TODO(02-postgres): PostgreSQL has no LastInsertId. INSERT the user with $1, $2 placeholders and
	// RETURNING id, read the id with QueryRow(...).Scan(&u.ID) (see CreateProduct). A unique violation
	// (isUniqueViolation, which you also write) becomes an error wrapping user.ErrEmailTaken; every
	// other error stays what it is, wrapped with %w.
	return user.User{}, errors.New("TODO(02-postgres): pgstore.CreateUser is not implemented")
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
