// Package shop is chapter 03's domain: users, orders, their rules and an in-memory store.
// It knows nothing about gRPC; the server package translates its errors into status codes.
package shop

import (
	"errors"
	"fmt"
)

// The domain's error vocabulary. Functions wrap these with context (fmt.Errorf("...: %w", ErrX)),
// so callers must test them with errors.Is / errors.As, never with ==.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique field (an email, an order's request id) is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrIllegalTransition: the entity exists, but is in a state where this action is not allowed.
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrNotOwner: the caller is authenticated, but the thing belongs to someone else.
	ErrNotOwner = errors.New("belongs to another user")
	// ErrUnavailable: a service we depend on could not be reached or refused the call for now.
	// Nothing about the caller's input is wrong; the same request may work a little later.
	ErrUnavailable = errors.New("dependency unavailable")
)

// InvalidError says which input field is wrong and why.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

func invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }
