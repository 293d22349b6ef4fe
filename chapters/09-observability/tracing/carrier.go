package tracing

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
)

// RecordCarrier lets a propagator read and write a Kafka record's headers, as propagation.HeaderCarrier does
// for HTTP headers: Inject calls Set("traceparent", "00-<trace id>-<span id>-01"), Extract calls Get.
type RecordCarrier struct {
	Record *kgo.Record
}

var _ propagation.TextMapCarrier = RecordCarrier{}

// Get returns the value of the header key, or "" when the record has none.
func (c RecordCarrier) Get(key string) string {
	// TODO(09-tracing): look key up in c.Record.Headers.
	return ""
}

// Set sets the header key to value. A record has at most one header per key: Set replaces an existing one
// (a record that is forwarded or retried must carry the new trace context, not the old one next to it).
func (c RecordCarrier) Set(key, value string) {
	// TODO(09-tracing): replace the header key if the record has it, else append it.
}

// Keys lists the keys of the record's headers.
func (c RecordCarrier) Keys() []string {
	// TODO(09-tracing): every header key.
	return nil
}
