package pprof

import (
	"fmt"
	"net"
)

// RequireLoopback refuses to serve profiles on an address that other machines can reach: the debug
// port must name a loopback host (127.0.0.0/8, ::1 or localhost). An empty host (":6060"), 0.0.0.0 or
// [::] listens on every interface, and is refused like any other address.
func RequireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("debug address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("debug address %q: pprof must listen on a loopback address (127.0.0.1 or [::1]); reach it through an SSH tunnel or kubectl port-forward", addr)
	}
	return nil
}
