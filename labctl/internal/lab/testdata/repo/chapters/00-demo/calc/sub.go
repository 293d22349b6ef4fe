package calc

// Sub returns a-b.
func Sub(a, b int) int {
	// TODO(00-sub): return the difference.
	return 0
}
