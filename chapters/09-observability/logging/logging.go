// Package logging builds the one structured logger of a service (zap) and derives the logger of a request from
// its context, so that every line inside a request carries the trace_id and span_id of the active OpenTelemetry
// span. Levels can change at runtime, bursts are sampled, errors never are, and secrets never reach the output.
package logging

import (
	"context"
	"io"
	"time"

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
	// TODO(09-logging): build the one logger: a JSON core on w, enabled by cfg.Level, sampled below error level
	// when cfg.Sampling is set (errors are never sampled), with every line passing through Redact.
	_, _ = w, cfg
	return zap.NewNop()
}

// FromContext returns base with the trace_id and span_id of the span that is active in ctx (hex, as in W3C
// traceparent), or base unchanged when ctx has no valid span.
func FromContext(ctx context.Context, base *zap.Logger) *zap.Logger {
	// TODO(09-logging): read the span context from ctx; when it is valid, add TraceIDKey and SpanIDKey fields.
	_ = ctx
	return base
}
