// Package tracing carries one OpenTelemetry trace across the chapter's system:
//
//	HTTP gateway (Gin, otelgin)  ->  gRPC OrderService (otelgrpc)  ->  Kafka topic  ->  shipping consumer
//
// Inside a process the trace travels in context.Context; between processes it travels as a W3C traceparent
// header: in HTTP headers, in gRPC metadata (the otelgrpc stats handlers do that) and in Kafka record headers
// (RecordCarrier, Publish and Process: that part is yours).
package tracing

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
)

// SetupPropagation installs the process-wide propagator that Inject and Extract use everywhere, otelgin and
// otelgrpc included: W3C Trace Context (traceparent, tracestate) and W3C Baggage.
func SetupPropagation() {
	// The default global propagator is a no-op: it injects nothing, so every hop would start its own trace.
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, // traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<flags>
		propagation.Baggage{},
	))
}

// Resource names the service that emits spans; Jaeger groups and colours spans by it.
func Resource(service string) *sdkresource.Resource {
	return sdkresource.NewSchemaless(attribute.String("service.name", service))
}

// SendSpanName and ProcessSpanName follow the OpenTelemetry messaging conventions: "{operation} {destination}".
func SendSpanName(topic string) string    { return "send " + topic }
func ProcessSpanName(topic string) string { return "process " + topic }
