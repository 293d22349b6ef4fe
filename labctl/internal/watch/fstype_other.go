//go:build !linux

package watch

// remoteFS is known only on Linux; elsewhere the probe decides.
func remoteFS(string) string { return "" }
