package greet

import "testing"

func TestGreet(t *testing.T) {
	if got := Greet("ada"); got != "hello, ada" {
		t.Errorf("Greet(%q) = %q, want %q", "ada", got, "hello, ada")
	}
}
