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
	for _, h := range c.Record.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set sets the header key to value. A record has at most one header per key: Set replaces an existing one
// (a record that is forwarded or retried must carry the new trace context, not the old one next to it).
func (c RecordCarrier) Set(key, value string) {
	for i, h := range c.Record.Headers {
		if h.Key == key {
			c.Record.Headers[i].Value = []byte(value)
			return
		}
	}
	c.Record.Headers = append(c.Record.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Keys lists the keys of the record's headers.
func (c RecordCarrier) Keys() []string {
	keys := make([]string, 0, len(c.Record.Headers))
	for _, h := range c.Record.Headers {
		keys = append(keys, h.Key)
	}
	return keys
}
