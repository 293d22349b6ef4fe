package logging

import (
	"regexp"
	"strings"

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
	return redactCore{core}
}

// redactCore rewrites fields and message, then hands them to the core it wraps.
type redactCore struct{ zapcore.Core }

// With redacts too: a token attached once with logger.With(...) would otherwise be encoded into every
// later line of that logger, past Write.
func (c redactCore) With(fields []zapcore.Field) zapcore.Core {
	return redactCore{c.Core.With(redactFields(fields))}
}

// Check registers this core (not the wrapped one), so that Write below is the one that runs.
func (c redactCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c redactCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	e.Message = ScrubText(e.Message)
	return c.Core.Write(e, redactFields(fields))
}

func redactFields(fields []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fields)) // a copy: the caller's slice may be reused
	for i, f := range fields {
		out[i] = redactField(f)
	}
	return out
}

func redactField(f zapcore.Field) zapcore.Field {
	if secretKey(f.Key) {
		return zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: Redacted}
	}
	switch f.Type {
	case zapcore.StringType:
		f.String = ScrubText(f.String)
	case zapcore.ByteStringType:
		return zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: ScrubText(string(f.Interface.([]byte)))}
	case zapcore.ErrorType:
		// An error's text often quotes what failed, header included: encode the scrubbed text instead.
		if err, ok := f.Interface.(error); ok && err != nil {
			return zapcore.Field{Key: f.Key, Type: zapcore.StringType, String: ScrubText(err.Error())}
		}
	}
	return f
}

func secretKey(key string) bool {
	k := strings.ToLower(key)
	for _, part := range SecretKeyParts {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}
