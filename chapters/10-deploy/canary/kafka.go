package canary

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SetRecordVersion puts the version tag of ctx into r's header RecordHeader, replacing one that is already
// there. A ctx without a tag leaves r as it is.
func SetRecordVersion(ctx context.Context, r *kgo.Record) {
	// TODO(10-canary): replace the header if r has it, else append it.
}

// RecordVersion returns the version r belongs to: Canary when its RecordHeader says so, else Stable (a
// record without the header comes from a producer that takes no part in the canary: stable owns it).
func RecordVersion(r *kgo.Record) Version {
	// TODO(10-canary): read r.Headers.
	return Stable
}

// Accepts reports whether a consumer of version self processes r. The stable and the canary consumers each
// read the whole topic in a consumer group of their own; each processes only its version's records.
func Accepts(self Version, r *kgo.Record) bool {
	// TODO(10-canary): compare the record's version with self.
	return false
}
