package logging

import (
	"regexp"

	"go.uber.org/zap/zapcore"
)

// Redacted replaces a secret in the output.
const Redacted = "[REDACTED]"

// SecretKeyParts are the rule for secret field names: a field is a secret when its key, lowercased, contains
// one of these. Its value is replaced by Redacted, whatever its type.
var SecretKeyParts = []string{"password", "passwd", "secret", "token", "authorization", "cookie", "api_key", "api-key", "apikey"}

// bearer finds a bearer token inside any text: "Bearer eyJ...", "bearer abc.def", any case.
var bearer = regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*`)

// ScrubText returns s with every bearer token replaced: "Bearer [REDACTED]".
func ScrubText(s string) string {
	return bearer.ReplaceAllString(s, "Bearer "+Redacted)
}

// Redact wraps core so that no secret reaches its output: fields with a secret key (SecretKeyParts) have their
// value replaced by Redacted, and bearer tokens inside the message, string values and error texts are scrubbed
// (ScrubText). It applies to fields given to a log call and to fields added earlier with Logger.With.
func Redact(core zapcore.Core) zapcore.Core {
	// TODO(09-logging): return a core that redacts fields (secret keys, bearer tokens in strings and errors)
	// and the message before they reach core, on Write and on With.
	return core
}
