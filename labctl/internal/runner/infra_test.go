package runner

import (
	"testing"

	"github.com/gomicrolab/microlab/infra"
)

// TestUnavailablePrefixMatchesInfra keeps the runner's copy of the marker in step with the infra package.
func TestUnavailablePrefixMatchesInfra(t *testing.T) {
	if UnavailablePrefix != infra.UnavailablePrefix {
		t.Fatalf("runner.UnavailablePrefix = %q, want infra.UnavailablePrefix %q", UnavailablePrefix, infra.UnavailablePrefix)
	}
}
