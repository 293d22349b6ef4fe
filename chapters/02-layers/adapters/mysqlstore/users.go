package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// CreateUser stores a user.
func (s *Store) CreateUser(ctx context.Context, u user.User) (user.User, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, email) VALUES (?, ?)`, u.Name, u.Email)
	// TODO(02-architecture): a taken email comes back as the driver's duplicate-key error, and today
	// the transport layer recognises it by importing the driver. Translate it here instead, where the
	// error is born: a duplicate key (and nothing else) becomes an error wrapping user.ErrEmailTaken
	// (which wraps domain.ErrConflict). Every other error stays what it is.
	if err != nil {
		return user.User{}, fmt.Errorf("insert user: %w", err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return user.User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, id int64) (user.User, error) {
	u := user.User{ID: id}
	err := s.db.QueryRowContext(ctx, `SELECT name, email FROM users WHERE id = ?`, id).Scan(&u.Name, &u.Email)
	if errors.Is(err, sql.ErrNoRows) {
		return user.User{}, fmt.Errorf("user %d: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return user.User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}
