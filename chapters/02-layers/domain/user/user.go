// Package user is the customer entity.
package user

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/gomicrolab/microlab/chapters/02-layers/domain"
)

// ErrEmailTaken is a conflict: another user has registered this email. Adapters return it (wrapped),
// whatever their storage calls a duplicate.
var ErrEmailTaken = fmt.Errorf("email already registered: %w", domain.ErrConflict)

// User is a customer. It is a simple entity: identity plus two validated fields.
type User struct {
	ID    int64
	Name  string
	Email string
}

// New returns a valid user without an id (the repository assigns it).
func New(name, email string) (User, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return User{}, fmt.Errorf("user name %q: %w", name, domain.ErrInvalid)
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return User{}, fmt.Errorf("user email %q: %w", email, domain.ErrInvalid)
	}
	return User{Name: name, Email: email}, nil
}
