package logging_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gomicrolab/microlab/chapters/09-observability/logging"
)

// syncBuffer is the logger's output: the real encoded bytes, safe to write from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines parses every JSON line written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var m map[string]any
		require.NoErrorf(t, json.Unmarshal(sc.Bytes(), &m), "a line of New's output is not JSON: %q", sc.Text())
		out = append(out, m)
	}
	return out
}

func newLogger(t *testing.T, cfg logging.Config) (*zap.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	l := logging.New(buf, cfg)
	require.NotNil(t, l, "New returned nil")
	return l, buf
}

func info() logging.Config { return logging.Config{Level: zap.NewAtomicLevelAt(zapcore.InfoLevel)} }

// requireOutput fails with a hint when New's logger wrote nothing at all.
func requireOutput(t *testing.T, buf *syncBuffer, what string) {
	t.Helper()
	if buf.String() == "" {
		t.Fatalf("%s: New's logger wrote nothing to the writer it was given, want JSON lines: build a zapcore core "+
			"on that writer (TODO(09-logging) in New)", what)
	}
}

func tracer() trace.Tracer {
	return sdktrace.NewTracerProvider().Tracer("logging-test")
}

func TestLoggingLinesCarryTraceAndSpanIDs(t *testing.T) {
	base, buf := newLogger(t, info())
	ctx, span := tracer().Start(context.Background(), "GET /orders/:id")
	defer span.End()
	sc := span.SpanContext()

	logging.FromContext(ctx, base).Info("in handler")
	// The trace crosses goroutines with the ctx: a goroutine that got ctx logs the same ids.
	done := make(chan struct{})
	go func() {
		defer close(done)
		logging.FromContext(ctx, base).Info("in goroutine")
	}()
	<-done
	childCtx, child := tracer().Start(ctx, "load order")
	logging.FromContext(childCtx, base).Info("in child span")
	child.End()

	// A request that head sampling dropped upstream: its traceparent says "not sampled" (flags 00), so the
	// span here is valid but not recording. Its logs still carry the ids, so that they join the logs of the
	// other services that handled the same request.
	unsampledTrace := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	remoteCtx := propagation.TraceContext{}.Extract(context.Background(),
		propagation.MapCarrier{"traceparent": "00-" + unsampledTrace.String() + "-00f067aa0ba902b7-00"})
	unsampledCtx, unsampled := tracer().Start(remoteCtx, "GET /orders/:id")
	require.Falsef(t, unsampled.IsRecording(), "test setup: a span under an unsampled parent must not be recording")
	logging.FromContext(unsampledCtx, base).Info("in unsampled request")
	unsampled.End()

	requireOutput(t, buf, "FromContext(ctx with a span).Info")
	lines := buf.lines(t)
	require.Lenf(t, lines, 4, "lines written = %d, want 4: %s", len(lines), buf.String())
	want := []struct {
		msg   string
		trace trace.TraceID
		span  trace.SpanID
	}{
		{"in handler", sc.TraceID(), sc.SpanID()},
		{"in goroutine", sc.TraceID(), sc.SpanID()},
		{"in child span", sc.TraceID(), child.SpanContext().SpanID()},
		{"in unsampled request", unsampledTrace, unsampled.SpanContext().SpanID()},
	}
	for i, w := range want {
		l := lines[i]
		require.Equalf(t, w.msg, l["msg"], "line %d msg", i)
		require.Equalf(t, w.trace.String(), l[logging.TraceIDKey],
			"FromContext(ctx).Info(%q) trace_id = %v, want %s (the active span's trace id, hex): every line of a request must carry it so that logs join the trace, "+
				"also when the span is not sampled (a valid span context, not a recording span, decides)",
			w.msg, l[logging.TraceIDKey], w.trace)
		require.Equalf(t, w.span.String(), l[logging.SpanIDKey],
			"FromContext(ctx).Info(%q) span_id = %v, want %s: the id of the span active in ctx, not of another span",
			w.msg, l[logging.SpanIDKey], w.span)
	}
}

func TestLoggingWithoutSpanHasNoIDs(t *testing.T) {
	base, buf := newLogger(t, info())
	logging.FromContext(context.Background(), base).Info("startup")
	// A context with an invalid span context (what a no-op tracer leaves) is no span either.
	logging.FromContext(trace.ContextWithSpanContext(context.Background(), trace.SpanContext{}), base).Info("no tracer")

	requireOutput(t, buf, "FromContext(context.Background()).Info")
	lines := buf.lines(t)
	require.Len(t, lines, 2, "lines written: %s", buf.String())
	for _, l := range lines {
		for _, k := range []string{logging.TraceIDKey, logging.SpanIDKey} {
			v, ok := l[k]
			require.Falsef(t, ok, "FromContext(ctx without a span) line %q has %s=%v, want no %s field: zero ids "+
				"join every untraced line into one fake trace", l["msg"], k, v, k)
		}
	}
}

func TestLoggingLevelsApplyAtRuntime(t *testing.T) {
	level := zap.NewAtomicLevelAt(zapcore.WarnLevel)
	l, buf := newLogger(t, logging.Config{Level: level})

	l.Info("info at warn level")
	l.Warn("warn at warn level")
	requireOutput(t, buf, "Warn at level warn")
	msgs := messages(buf.lines(t))
	require.Equalf(t, []string{"warn at warn level"}, msgs, "lines at level warn = %q, want only the warning: Info is below the configured level", msgs)

	// An operator turns on debug logging on a live service (PUT /log/level): no restart, no new logger.
	level.SetLevel(zapcore.DebugLevel)
	l.Debug("debug after SetLevel")
	msgs = messages(buf.lines(t))
	require.Containsf(t, msgs, "debug after SetLevel",
		"after cfg.Level.SetLevel(debug), Debug was not written (lines %q): New must ask cfg.Level on every line, not copy its value once", msgs)

	// The level is the minimum for every line, errors included: errors bypass the sampler, not the level.
	level.SetLevel(zapcore.DPanicLevel)
	l.Error("error at dpanic level")
	msgs = messages(buf.lines(t))
	require.NotContainsf(t, msgs, "error at dpanic level",
		"after cfg.Level.SetLevel(dpanic), Error was written (lines %q), want it dropped: cfg.Level is the minimum level of every line, the error core asks it too", msgs)
}

func messages(lines []map[string]any) []string {
	var out []string
	for _, l := range lines {
		out = append(out, fmt.Sprint(l["msg"]))
	}
	return out
}

func count(lines []map[string]any, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func TestLoggingSamplesBurstsButNotErrors(t *testing.T) {
	// A tick of a minute: the whole burst falls inside one tick, however slow the machine.
	cfg := info()
	cfg.Sampling = &logging.Sampling{Tick: time.Minute, First: 5, Thereafter: 10}
	l, buf := newLogger(t, cfg)

	const burst = 105
	for i := 0; i < burst; i++ {
		l.Info("cache miss", zap.Int("i", i))
	}
	for i := 0; i < burst; i++ {
		l.Error("payment failed", zap.Int("i", i))
	}
	requireOutput(t, buf, "a burst of Info and Error lines")
	lines := buf.lines(t)

	// zap's sampler: the first 5 in the tick, then every 10th: lines 15, 25, ..., 105.
	const wantInfo = 5 + (burst-5)/10
	require.Equalf(t, wantInfo, count(lines, "cache miss"),
		"a burst of %d identical Info lines wrote %d, want %d (first 5, then every 10th): configure zap's sampler from cfg.Sampling",
		burst, count(lines, "cache miss"), wantInfo)
	require.Equalf(t, burst, count(lines, "payment failed"),
		"a burst of %d Error lines wrote %d, want all %d: errors are never sampled, the line you drop is the one the incident needs",
		burst, count(lines, "payment failed"), burst)
}

func secret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "s3cr3t" + hex.EncodeToString(b)
}

func TestLoggingNeverLeaksSecrets(t *testing.T) {
	base, buf := newLogger(t, info())
	token, password, refresh, session := secret(t), secret(t), secret(t), secret(t)

	// A handler that logs carelessly, the way real handlers do: the header, the body, an error quoting the header.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tracer().Start(r.Context(), "POST /login")
		defer span.End()
		var body struct{ User, Password, RefreshToken string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		auth := r.Header.Get("Authorization")
		log := logging.FromContext(ctx, base).With(zap.String("token", strings.TrimPrefix(auth, "Bearer ")))
		log.Info("login",
			zap.String("user", body.User),
			zap.String("password", body.Password),
			zap.String("Authorization", auth),
			zap.String("refresh_token", body.RefreshToken),
			zap.Any("cookies", r.Cookies()))
		log.Warn("upstream rejected " + auth)
		log.Info("retrying", zap.String("note", "client sent bearer "+token+" again"),
			zap.ByteString("raw_header", []byte("Authorization: "+auth)))
		log.Error("login failed", zap.Error(fmt.Errorf("verify %q: signature mismatch", auth)))
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/login",
		strings.NewReader(fmt.Sprintf(`{"User":"alice","Password":%q,"RefreshToken":%q}`, password, refresh)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.AddCookie(&http.Cookie{Name: "session", Value: session})
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	requireOutput(t, buf, "a handler logging a login request")
	out := buf.String()
	for name, s := range map[string]string{"bearer token": token, "password": password, "refresh token": refresh, "session cookie": session} {
		if i := strings.Index(out, s); i >= 0 {
			line := out[strings.LastIndex(out[:i], "\n")+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("the %s sent in the request appears in the log output, want it redacted: %s", name, line)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Redaction hides secrets, not the log: every line is still there, with its non-secret fields.
	lines := buf.lines(t)
	require.Equalf(t, []string{"login", "upstream rejected Bearer [REDACTED]", "retrying", "login failed"}, messages(lines),
		"messages written: bearer tokens in a message are replaced by %q, and no line is dropped", "Bearer "+logging.Redacted)
	login := lines[0]
	require.Equal(t, "alice", login["user"], "a non-secret field must stay as it was")
	for _, k := range []string{"password", "Authorization", "refresh_token", "cookies", "token"} {
		require.Equalf(t, logging.Redacted, login[k], "field %q = %v, want %q: the key stays, so you can see a value was sent", k, login[k], logging.Redacted)
	}
	require.Contains(t, lines[0], logging.TraceIDKey, "lines inside the request still carry the trace id")
}
