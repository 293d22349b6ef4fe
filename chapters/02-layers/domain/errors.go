// Package domain holds the shop's error vocabulary. Its subpackages (order, user, product) are the
// domain model: plain Go with no database, HTTP or framework imports. Every other layer depends on
// the domain; the domain depends on nothing.
package domain

import "errors"

var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request clashes with the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the input breaks a rule of the domain.
	ErrInvalid = errors.New("invalid input")
)
