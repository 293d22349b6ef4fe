package tracing

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// Handler processes one record. ctx carries the consumer's span: spans the handler starts are its children.
type Handler func(ctx context.Context, r *kgo.Record) error

// Publish produces r and waits for the broker's acknowledgement inside a producer span named
// SendSpanName(r.Topic), a child of the span in ctx, and puts that span's trace context into r's headers so
// that the consumer continues the same trace.
func Publish(ctx context.Context, tracer trace.Tracer, cl *kgo.Client, r *kgo.Record) error {
	// TODO(09-tracing): start a SpanKindProducer span, inject its context into the record headers with the
	// global propagator and RecordCarrier, ProduceSync, record an error on the span, end it.
	return errors.New("TODO(09-tracing): Publish is not implemented")
}

// Process runs handle for r inside a consumer span named ProcessSpanName(r.Topic) that continues the trace
// found in r's headers (its parent is the producer's span), or starts a new trace when r has none. ctx is
// the consumer loop's context (cancellation); handle gets a context that carries the consumer span.
func Process(ctx context.Context, tracer trace.Tracer, r *kgo.Record, handle Handler) error {
	// TODO(09-tracing): extract the remote span context from the record headers into ctx, start a
	// SpanKindConsumer span from it, call handle with the span's context, record an error, end the span.
	return errors.New("TODO(09-tracing): Process is not implemented")
}
