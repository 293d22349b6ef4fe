package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
	"github.com/gomicrolab/microlab/chapters/02-layers/domain/user"
)

// CreateUser stores a user. The driver's duplicate-key error is translated here, where it is born,
// into the domain's user.ErrEmailTaken (a domain.ErrConflict): no layer above this one ever sees a
// MySQL error number. Only error 1062 is a taken email; any other failure stays what it is, a 500.
func (s *Store) CreateUser(ctx context.Context, u user.User) (user.User, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (name, email) VALUES (?, ?)`, u.Name, u.Email)
	if isDuplicateKey(err) {
		return user.User{}, fmt.Errorf("insert user: %w", user.ErrEmailTaken)
	}
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
