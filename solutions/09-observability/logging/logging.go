// Package logging builds the one structured logger of a service (zap) and derives the logger of a request from
// its context, so that every line inside a request carries the trace_id and span_id of the active OpenTelemetry
// span. Levels can change at runtime, bursts are sampled, errors never are, and secrets never reach the output.
package logging

import (
	"context"
	"io"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config is everything a deployment may tune about logging. It is read in one place: New.
type Config struct {
	// Level is the minimum level that is written. It is an AtomicLevel so that an operator can change it while
	// the service runs (zap.AtomicLevel is also an http.Handler: GET shows it, PUT {"level":"debug"} sets it).
	// Required: build it with zap.NewAtomicLevelAt.
	Level zap.AtomicLevel
	// Sampling, when not nil, thins out bursts of the same message below error level. Error and above are
	// never sampled: the line you need in an incident is the one a sampler would have dropped.
	Sampling *Sampling
}

// Sampling is zap's sampler: per Tick, per level and message, the First lines are written, then every
// Thereafter-th line.
type Sampling struct {
	Tick       time.Duration
	First      int
	Thereafter int
}

// Field names of the lines New writes. Tests and log pipelines (Loki, ELK) rely on them.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// EncoderConfig is the JSON layout of every line: {"level":"info","ts":"...","msg":"...", fields...}.
func EncoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{
		MessageKey:     "msg",
		LevelKey:       "level",
		TimeKey:        "ts",
		NameKey:        "logger",
		StacktraceKey:  "stacktrace",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
}

// New builds the service's logger: JSON lines (EncoderConfig) to w, at cfg.Level (changes to it apply at once),
// bursts below error level sampled as cfg.Sampling says, errors never sampled, and every line redacted (Redact).
func New(w io.Writer, cfg Config) *zap.Logger {
	enc := zapcore.NewJSONEncoder(EncoderConfig())
	out := zapcore.Lock(zapcore.AddSync(w))
	// The enablers ask cfg.Level on every call, so a level changed at runtime applies at once.
	belowError := zap.LevelEnablerFunc(func(l zapcore.Level) bool {
		return l < zapcore.ErrorLevel && cfg.Level.Enabled(l)
	})
	errorAndAbove := zap.LevelEnablerFunc(func(l zapcore.Level) bool {
		return l >= zapcore.ErrorLevel && cfg.Level.Enabled(l)
	})
	// Redaction sits right on the encoder, under the sampler: the sampler decides in Check whether a line is
	// written, and only the innermost core's Write sees the fields of both the call and With.
	noisy := Redact(zapcore.NewCore(enc, out, belowError))
	if s := cfg.Sampling; s != nil {
		noisy = zapcore.NewSamplerWithOptions(noisy, s.Tick, s.First, s.Thereafter)
	}
	// Errors go through their own core that no sampler wraps.
	errs := Redact(zapcore.NewCore(enc.Clone(), out, errorAndAbove))
	return zap.New(zapcore.NewTee(noisy, errs))
}

// FromContext returns base with the trace_id and span_id of the span that is active in ctx (hex, as in W3C
// traceparent), or base unchanged when ctx has no valid span.
func FromContext(ctx context.Context, base *zap.Logger) *zap.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		// No span: no ids at all. Zero ids ("000...") would group every untraced line into one fake trace.
		return base
	}
	return base.With(zap.String(TraceIDKey, sc.TraceID().String()), zap.String(SpanIDKey, sc.SpanID().String()))
}
