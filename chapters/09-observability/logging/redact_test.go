package logging_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/09-observability/logging"
)

func TestLoggingScrubText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-_x", "Authorization: Bearer [REDACTED]"},
		{"sent bearer abc/def+ghi== twice", "sent Bearer [REDACTED] twice"},
		{"no token here", "no token here"},
	} {
		require.Equal(t, tc.want, logging.ScrubText(tc.in), "ScrubText(%q)", tc.in)
	}
}
