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

// Bounds on a user's stored strings: 254 bytes is the longest address SMTP can deliver to (RFC 5321),
// and without bounds one call may store megabytes.
const (
	MaxEmailLen = 254
	MaxNameLen  = 100
)

// NewUser validates a new user's fields. The store assigns the id.
func NewUser(email, name string) (User, error) {
	email = strings.TrimSpace(email)
	if len(email) > MaxEmailLen {
		return User{}, invalid("email", "must be at most 254 bytes")
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return User{}, invalid("email", "must be a plain address like ada@example.com")
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return User{}, invalid("name", "must not be empty")
	}
	if len(name) > MaxNameLen {
		return User{}, invalid("name", "must be at most 100 bytes")
	}
	return User{Email: email, Name: name}, nil
}
