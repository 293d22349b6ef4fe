package shop

import (
	"net/mail"
	"strings"
)

// User is a registered customer.
type User struct {
	ID    string
	Email string
	Name  string
}

// NewUser validates a new user's fields. The store assigns the id.
func NewUser(email, name string) (User, error) {
	email = strings.TrimSpace(email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return User{}, invalid("email", "must be a plain address like ada@example.com")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return User{}, invalid("name", "must not be empty")
	}
	return User{Email: email, Name: name}, nil
}
