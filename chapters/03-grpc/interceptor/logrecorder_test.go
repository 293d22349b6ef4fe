package interceptor

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// logRecorder is a slog.Handler that keeps every record, so tests can ask what was logged.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]map[string]string // each record's attributes, values as strings, plus "level"
	attrs   []slog.Attr          // attributes added with Logger.With
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: new(sync.Mutex), records: new([]map[string]string)}
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"level": rec.Level.String(), "msg": rec.Message}
	for _, a := range r.attrs {
		m[a.Key] = valueString(a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = valueString(a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.records = append(*r.records, m)
	return nil
}

func (r *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	next := *r
	next.attrs = append(append([]slog.Attr(nil), r.attrs...), attrs...)
	return &next
}

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// codes returns the "code" attribute of every record logged for method, in order.
func (r *logRecorder) codes(method string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range *r.records {
		if m["method"] == method {
			if c, ok := m["code"]; ok {
				out = append(out, c)
			}
		}
	}
	return out
}

// levels returns the level of every record logged for method that has a "code" attribute.
func (r *logRecorder) levels(method string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range *r.records {
		if _, ok := m["code"]; ok && m["method"] == method {
			out = append(out, m["level"])
		}
	}
	return out
}

// valueString renders v as slog's text handler would: a []byte (debug.Stack's result) as text.
func valueString(v slog.Value) string {
	if b, ok := v.Any().([]byte); ok && v.Kind() == slog.KindAny {
		return string(b)
	}
	return v.String()
}

// some reports whether a record at level has, somewhere in its message or attributes, every one
// of wants (each may be in a different attribute).
func (r *logRecorder) some(level slog.Level, wants ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range *r.records {
		if m["level"] != level.String() {
			continue
		}
		found := 0
		for _, want := range wants {
			for _, v := range m {
				if strings.Contains(v, want) {
					found++
					break
				}
			}
		}
		if found == len(wants) {
			return true
		}
	}
	return false
}

// attr returns the value of attribute key (empty if missing) of every record with a "code"
// attribute logged for method, in order.
func (r *logRecorder) attr(method, key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range *r.records {
		if _, ok := m["code"]; ok && m["method"] == method {
			out = append(out, m[key])
		}
	}
	return out
}
