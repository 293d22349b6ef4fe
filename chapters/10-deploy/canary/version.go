// Package canary is chapter 10's canary release (灰度发布): the gateway decides, once per request, whether a
// request goes to the stable version (v1) or the canary (v2) of the services behind it, and that decision
// travels with the request on every hop: gRPC metadata from service to service, a header on the Kafka record
// to the consumers. Every hop serves the request with the instance of the version it carries.
package canary

import "context"

// Version is a release of the services: every service runs a Stable and a Canary instance.
type Version string

const (
	Stable Version = "v1"
	Canary Version = "v2"
)

// The names the version travels under. The gateway owns them: the public internet only gets HeaderCanary.
const (
	// HeaderCanary is the public opt-in header: "always" pins a request to the canary, "never" to stable
	// (testers and the release owner use it; any other value, or none, means: route by weight).
	HeaderCanary = "X-Canary"
	// HeaderUser names the user a request is for (in production it comes from the verified token).
	HeaderUser = "X-User-ID"
	// HeaderRequestID is an optional request id that the gateway passes on as the metadata RequestIDKey.
	HeaderRequestID = "X-Request-ID"
	// HeaderVersion is the internal HTTP header with the gateway's decision. A client must not be able to
	// set it: the gateway removes what arrives and sets it itself, for the handlers behind it.
	HeaderVersion = "X-Version"
	// MetadataKey is the gRPC metadata key of the version tag (gRPC keys are lower case).
	MetadataKey = "x-version"
	// RequestIDKey is the gRPC metadata key of the request id.
	RequestIDKey = "x-request-id"
	// RecordHeader is the Kafka record header of the version tag.
	RecordHeader = "x-version"
)

type versionKey struct{}

// WithVersion returns ctx carrying the version tag v.
func WithVersion(ctx context.Context, v Version) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// FromContext returns the version tag in ctx, or "" when it carries none.
func FromContext(ctx context.Context) Version {
	v, _ := ctx.Value(versionKey{}).(Version)
	return v
}
