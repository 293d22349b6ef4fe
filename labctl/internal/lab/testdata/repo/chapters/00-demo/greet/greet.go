// Package greet says hello.
package greet

// Greet returns "hello, <name>".
func Greet(name string) string {
	// TODO(00-greet): greet by name.
	return ""
}
