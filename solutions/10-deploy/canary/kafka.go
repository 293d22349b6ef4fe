package canary

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SetRecordVersion puts the version tag of ctx into r's header RecordHeader, replacing one that is already
// there (a forwarded or retried record must say the version that sends it now). A ctx without a tag leaves
// r as it is.
func SetRecordVersion(ctx context.Context, r *kgo.Record) {
	v := FromContext(ctx)
	if v == "" {
		return
	}
	for i, h := range r.Headers {
		if h.Key == RecordHeader {
			r.Headers[i].Value = []byte(v)
			return
		}
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: RecordHeader, Value: []byte(v)})
}

// RecordVersion returns the version r belongs to: Canary when its RecordHeader says so, else Stable. A record
// without the header was produced by something that takes no part in the canary (an older producer, a
// replay tool): the stable consumers own it, so that it is processed exactly once.
func RecordVersion(r *kgo.Record) Version {
	for _, h := range r.Headers {
		if h.Key == RecordHeader && Version(h.Value) == Canary {
			return Canary
		}
	}
	return Stable
}

// Accepts reports whether a consumer of version self processes r. The stable and the canary consumers each
// read the whole topic in a consumer group of their own, and each processes only its version's records:
// every record is processed once, by the version that produced it.
func Accepts(self Version, r *kgo.Record) bool {
	return RecordVersion(r) == self
}
