// Package greet says hello.
package greet

// Greet returns "hello, <name>".
func Greet(name string) string {
	return "hello, " + name
}
