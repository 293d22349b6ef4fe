package tracing

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Handler processes one record. ctx carries the consumer's span: spans the handler starts are its children.
type Handler func(ctx context.Context, r *kgo.Record) error

// Publish produces r and waits for the broker's acknowledgement inside a producer span named
// SendSpanName(r.Topic), a child of the span in ctx, and puts that span's trace context into r's headers so
// that the consumer continues the same trace.
func Publish(ctx context.Context, tracer trace.Tracer, cl *kgo.Client, r *kgo.Record) error {
	ctx, span := tracer.Start(ctx, SendSpanName(r.Topic),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", r.Topic),
			attribute.String("messaging.operation.name", "send"),
		))
	defer span.End()
	// Inject after Start: the record must name the producer span as its parent, not the span that called us.
	otel.GetTextMapPropagator().Inject(ctx, RecordCarrier{Record: r})
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "produce failed")
		return fmt.Errorf("publish to %s: %w", r.Topic, err)
	}
	span.SetAttributes(attribute.Int("messaging.destination.partition.id", int(r.Partition)))
	return nil
}

// Process runs handle for r inside a consumer span named ProcessSpanName(r.Topic) that continues the trace
// found in r's headers (its parent is the producer's span), or starts a new trace when r has none. ctx is
// the consumer loop's context (cancellation); handle gets a context that carries the consumer span.
func Process(ctx context.Context, tracer trace.Tracer, r *kgo.Record, handle Handler) error {
	// Extract keeps ctx (its cancellation) and adds the remote span context, if the headers carry a valid one.
	// Without one, Start below makes a new root: a message from an untraced producer still gets processed.
	ctx = otel.GetTextMapPropagator().Extract(ctx, RecordCarrier{Record: r})
	ctx, span := tracer.Start(ctx, ProcessSpanName(r.Topic),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", r.Topic),
			attribute.String("messaging.operation.name", "process"),
			attribute.Int("messaging.destination.partition.id", int(r.Partition)),
			attribute.Int64("messaging.kafka.offset", r.Offset),
		))
	defer span.End()
	// The handler gets the span's ctx, so its own spans and log lines hang under the consumer span.
	if err := handle(ctx, r); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
		return err
	}
	return nil
}
