// Package calc is arithmetic for the fixture course.
package calc

// Add returns a+b.
func Add(a, b int) int {
	return a + b
}
